"""Bundle loading: a bundle that disagrees with its model stops start-up with one clear message."""

from __future__ import annotations

import dataclasses

import pytest

from app import create_app
from app.errors import BundleError
from app.model.bundle import load_bundle
from app.model.registry import discover
from tests.support.bundles import LABELS, build_model, bundle_yaml, write_bundle


@pytest.fixture(scope="module")
def model():
    return build_model()


def test_good_bundle_loads(tmp_path, model):
    bundle = load_bundle(write_bundle(tmp_path, model=model))
    assert (bundle.name, bundle.version) == ("tiny", 1)
    assert bundle.outputs["label"].labels == LABELS
    assert bundle.inputs["image"].shape == (16, 16, 3)
    assert set(bundle.parts) == {"image", "audio", "text"}


def _inputs(**changes):
    spec = bundle_yaml()
    for name, entry in changes.items():
        spec["inputs"][name] = entry
    return spec


def _without(name):
    spec = bundle_yaml()
    del spec["inputs"][name]
    return spec


BROKEN = [
    ("input missing from yaml", dict(spec=_without("audio")), ["'audio'", "no entry"]),
    (
        "extra input in yaml",
        dict(spec=_inputs(video={"modality": "image"})),
        ["'video'", "not a model input"],
    ),
    (
        "image size disagrees",
        dict(spec=_inputs(image={"modality": "image", "params": {"size": [32, 32]}})),
        ["input 'image'", "32", "16"],
    ),
    (
        "audio frames disagree",
        dict(
            spec=_inputs(
                audio={
                    "modality": "audio",
                    "params": {
                        "sample_rate": 8000,
                        "duration_s": 1.0,
                        "features": "mfcc",
                        "n_mfcc": 13,
                        "hop_length": 160,
                        "n_fft": 256,
                        "n_mels": 20,
                    },
                }
            )
        ),
        ["input 'audio'", "26"],
    ),
    (
        "text dtype",
        dict(spec=_inputs(image={"modality": "text", "params": {"vocabulary": "vocab.txt"}})),
        ["input 'image'"],
    ),
    ("label count", dict(labels=("cat", "dog")), ["output 'label'", "2 labels", "3 units"]),
    ("unknown modality", dict(spec=_inputs(image={"modality": "video"})), ["'video'"]),
    (
        "bad missing policy",
        dict(
            spec=_inputs(
                text={"modality": "text", "missing": "guess", "params": {"vocabulary": "vocab.txt"}}
            )
        ),
        ["missing 'guess'"],
    ),
    (
        "missing asset",
        dict(spec=_inputs(text={"modality": "text", "params": {"vocabulary": "gone.txt"}})),
        ["gone.txt"],
    ),
    (
        "outputs disagree",
        dict(
            spec=bundle_yaml(outputs={"label": {"kind": "classification", "labels": "labels.txt"}})
        ),
        ["outputs", "embedding"],
    ),
]


@pytest.mark.parametrize("kwargs,fragments", [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_mismatch_names_bundle_input_and_both_sides(tmp_path, model, kwargs, fragments):
    path = write_bundle(tmp_path, model=model, **kwargs)
    with pytest.raises(BundleError) as info:
        load_bundle(path)
    message = str(info.value)
    assert "bundle tiny/1" in message
    for fragment in fragments:
        assert fragment in message


def test_unsafe_model_file_is_refused(tmp_path):
    import keras

    inp = keras.Input((2,), name="text", dtype="int32")
    out = keras.layers.Lambda(lambda x: keras.ops.cast(x, "float32") * 2, name="label")(inp)
    path = tmp_path / "lam" / "1"
    path.mkdir(parents=True)
    keras.Model({"text": inp}, {"label": out}).save(path / "model.keras")
    (path / "bundle.yaml").write_text("inputs: {}\noutputs: {}\n")
    with pytest.raises(BundleError, match="cannot be loaded safely"):
        load_bundle(path)


def test_discover_lists_versions_and_skips_other_folders(tmp_path, model):
    write_bundle(tmp_path, "m", 1, model=model)
    write_bundle(tmp_path, "m", 3, model=model)
    (tmp_path / "m" / "notes").mkdir()
    (tmp_path / "empty").mkdir()
    # No version: '0', '07' (its version 7 would be looked for in folder '7'), and digits
    # str.isdigit() accepts but int() refuses ('²') or reads as another folder's ('١' is 1).
    for name in ("0", "07", "²", "١"):
        (tmp_path / "m" / name).mkdir()
    assert discover(tmp_path) == {"m": [1, 3]}


@pytest.mark.parametrize("folder", ["latest", "0", "²"])
def test_a_bundle_folder_that_names_no_version_is_refused_by_name(tmp_path, model, folder):
    path = write_bundle(tmp_path, "m", 1, model=model).rename(tmp_path / "m" / folder)
    with pytest.raises(BundleError, match=f"bundle m/{folder} .*<name>/<version>"):
        load_bundle(path)


def test_create_app_refuses_a_broken_bundle(tmp_path, settings, model):
    write_bundle(tmp_path, "tiny", 1, model=model, labels=("only-one",))
    broken = dataclasses.replace(settings, models_dir=str(tmp_path))
    with pytest.raises(BundleError, match="bundle tiny/1.*1 labels but the model output has 3"):
        create_app(broken)


def test_pin_to_missing_version_is_refused(settings):
    pinned = dataclasses.replace(settings, pinned_versions={"tiny": 7})
    with pytest.raises(BundleError, match="pinned to version 7"):
        create_app(pinned)


def test_unknown_default_model_is_refused(settings):
    with pytest.raises(BundleError, match="'nope' is configured"):
        create_app(dataclasses.replace(settings, default_model="nope"))
