"""Settings from YAML, then environment overrides."""

from __future__ import annotations

import pytest

from app.settings import BatchingSettings, load_settings


def test_repo_yaml_loads_with_defaults():
    settings = load_settings(environ={})
    assert settings.default_model == "digits" and settings.device == "auto"
    assert settings.batching == BatchingSettings(16, 2.0, 128)


def test_environment_overrides(tmp_path):
    path = tmp_path / "service.yaml"
    path.write_text("default_model: a\nmodels: [a, b]\nbatching: {max_batch_size: 4}\n")
    settings = load_settings(
        path,
        environ={
            "MMS_DEFAULT_MODEL": "b",
            "MMS_WARMUP": "off",
            "MMS_MAX_DELAY_MS": "5.5",
            "MMS_PINNED_VERSIONS": "a=2, b=3",
            "MMS_MAX_PART_BYTES": "image=10",
            "MMS_MODELS_DIR": "/srv/models",
        },
    )
    assert settings.default_model == "b" and settings.warmup is False
    assert settings.models == ("a", "b")
    assert settings.batching == BatchingSettings(max_batch_size=4, max_delay_ms=5.5)
    assert settings.pinned_versions == {"a": 2, "b": 3}
    assert settings.max_part_bytes["image"] == 10 and settings.max_part_bytes["text"] == 65536
    assert str(settings.resolve_models_dir(tmp_path)) == "/srv/models"


def test_config_file_from_environment(tmp_path):
    path = tmp_path / "other.yaml"
    path.write_text("default_top_k: 2\n")
    assert load_settings(environ={"MMS_CONFIG": str(path)}).default_top_k == 2


def test_per_model_batching(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("model_batching: {big: {max_batch_size: 64}}\n")
    settings = load_settings(path, environ={})
    assert settings.batching_for("big").max_batch_size == 64
    assert settings.batching_for("other").max_batch_size == 16


@pytest.mark.parametrize(
    "env,fragment",
    [({"MMS_WARMUP": "maybe"}, "MMS_WARMUP"), ({"MMS_MAX_BATCH_SIZE": "x"}, "MMS_MAX_BATCH_SIZE")],
)
def test_bad_environment_values_name_the_variable(env, fragment):
    with pytest.raises(ValueError, match=fragment):
        load_settings(environ=env)


def test_unknown_yaml_key_is_refused(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("max_batch: 3\n")
    with pytest.raises(ValueError, match="max_batch"):
        load_settings(path, environ={})


def test_input_limits_load_from_yaml_and_env_and_reach_the_preprocessors(tmp_path):
    from app.preprocessing.audio import AudioPreprocessor
    from tests.support.bundles import AUDIO_PARAMS, AUDIO_SHAPE

    settings = load_settings(environ={})
    assert (settings.max_parts, settings.max_form_field_bytes) == (64, 65536)
    assert (settings.min_audio_sample_rate, settings.max_audio_sample_rate) == (8000, 48000)
    assert settings.max_audio_channels == 8
    settings = load_settings(
        environ={
            "MMS_MAX_PARTS": "3",
            "MMS_MAX_AUDIO_CHANNELS": "2",
            "MMS_MAX_AUDIO_SAMPLE_RATE": "96000",
        }
    )
    assert settings.max_parts == 3
    limits = settings.preprocessing_limits()
    assert limits["audio"]["max_channels"] == 2 and limits["audio"]["max_sample_rate"] == 96000
    audio = AudioPreprocessor(
        {**AUDIO_PARAMS, **limits["audio"]},
        bundle_dir=tmp_path,
        shape=AUDIO_SHAPE,
        dtype="float32",
    )
    assert audio.describe()["max_channels"] == 2 and audio.describe()["max_sample_rate"] == 96000
