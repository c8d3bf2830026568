"""Bundles cannot reach outside the models folder, and models load with Keras safe mode on."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from app import create_app
from app.errors import BundleError
from app.model.bundle import load_bundle
from app.model.registry import discover
from tests.support.bundles import build_model, bundle_yaml, write_bundle


@pytest.fixture(scope="module")
def model():
    return build_model()


def _with_vocabulary(name):
    spec = bundle_yaml()
    spec["inputs"]["text"]["params"]["vocabulary"] = name
    return spec


def _with_labels(name):
    spec = bundle_yaml()
    spec["outputs"]["label"]["labels"] = name
    return spec


def test_version_symlink_out_of_the_models_folder_is_refused(tmp_path, model, settings):
    outside = write_bundle(tmp_path / "elsewhere", "tiny", 1, model=model)
    models = tmp_path / "models"
    (models / "tiny").mkdir(parents=True)
    (models / "tiny" / "1").symlink_to(outside, target_is_directory=True)
    with pytest.raises(BundleError, match=r"bundle tiny/1 .* outside the models folder"):
        discover(models)
    with pytest.raises(BundleError, match=r"bundle tiny/1 .* outside the models folder"):
        create_app(dataclasses.replace(settings, models_dir=str(models), models=()))


def test_model_name_symlink_out_of_the_models_folder_is_refused(tmp_path, model):
    write_bundle(tmp_path / "elsewhere", "tiny", 1, model=model)
    models = tmp_path / "models"
    models.mkdir()
    (models / "tiny").symlink_to(tmp_path / "elsewhere" / "tiny", target_is_directory=True)
    with pytest.raises(BundleError, match=r"bundle tiny/1 .*elsewhere.* outside"):
        discover(models)


def test_symlinks_inside_the_models_folder_are_fine(tmp_path, model):
    write_bundle(tmp_path, "tiny", 1, model=model)
    (tmp_path / "tiny" / "2").symlink_to(tmp_path / "tiny" / "1", target_is_directory=True)
    assert discover(tmp_path) == {"tiny": [1, 2]}
    assert load_bundle(tmp_path / "tiny" / "2").version == 2


ESCAPES = [
    ("vocabulary", "../../vocab.txt"),
    ("vocabulary", "/etc/passwd"),
    ("labels", "../labels.txt"),
    ("labels", "sub/../labels.txt"),
]


@pytest.mark.parametrize("what,name", ESCAPES)
def test_file_names_with_dot_dot_or_absolute_are_refused(tmp_path, model, what, name):
    (tmp_path / "vocab.txt").write_text("<pad>\n<unk>\n")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "labels.txt").write_text("cat\ndog\nbird\n")
    spec = _with_vocabulary(name) if what == "vocabulary" else _with_labels(name)
    path = write_bundle(tmp_path / "m", model=model, spec=spec)
    with pytest.raises(BundleError) as info:
        load_bundle(path)
    assert "bundle tiny/1" in str(info.value) and f"{what} {name!r}" in str(info.value)


@pytest.mark.parametrize("file_name", ["vocab.txt", "labels.txt", "model.keras", "bundle.yaml"])
def test_asset_symlink_out_of_the_bundle_is_refused(tmp_path, model, file_name):
    path = write_bundle(tmp_path / "models", model=model)
    target = tmp_path / f"outside-{file_name}"
    (path / file_name).rename(target)
    (path / file_name).symlink_to(target)
    with pytest.raises(BundleError) as info:
        load_bundle(path)
    message = str(info.value)
    assert "bundle tiny/1" in message and f"'{file_name}'" in message
    assert str(target) in message and "outside the bundle folder" in message


def test_asset_in_a_subfolder_is_fine(tmp_path, model):
    path = write_bundle(tmp_path, model=model, spec=_with_vocabulary("assets/vocab.txt"))
    (path / "assets").mkdir()
    (path / "vocab.txt").rename(path / "assets" / "vocab.txt")
    assert load_bundle(path).inputs["text"].preprocessor.vocabulary_file == "assets/vocab.txt"


def test_lambda_layer_is_refused_at_start_up(tmp_path, settings):
    import keras

    inp = keras.Input((2,), name="text", dtype="int32")
    out = keras.layers.Lambda(lambda x: keras.ops.cast(x, "float32") * 2, name="label")(inp)
    path = tmp_path / "lam" / "1"
    path.mkdir(parents=True)
    keras.Model({"text": inp}, {"label": out}).save(path / "model.keras")
    (path / "bundle.yaml").write_text(yaml.safe_dump({"inputs": {}, "outputs": {}}))
    unsafe = dataclasses.replace(settings, models_dir=str(tmp_path), default_model="lam", models=())
    with pytest.raises(BundleError) as info:
        create_app(unsafe)
    message = str(info.value)
    assert "bundle lam/1" in message and "cannot be loaded safely" in message
    assert "Lambda" in message
