"""``init-bundle``: a skeleton whose guesses fit the model, loadable once its TODOs are settled."""

from __future__ import annotations

import shutil

import pytest
import yaml
from click.testing import CliRunner

from app.cli.init_bundle import init_bundle
from app.errors import BundleError
from app.model.bundle import load_bundle
from tests.support.bundles import LABELS, VOCAB
from tests.support.cli import run_cli


@pytest.mark.slow  # loads and warms a model
def test_skeleton_loads_once_the_todos_are_filled(models_dir, tmp_path):
    model_file = tmp_path / "exported" / "model.keras"
    model_file.parent.mkdir()
    shutil.copy(models_dir / "tiny" / "1" / "model.keras", model_file)
    bundle = tmp_path / "models" / "tiny" / "1"
    result = run_cli("init-bundle", str(model_file), "--out", str(bundle))
    assert result.returncode == 0, result.stderr
    text = (bundle / "bundle.yaml").read_text()
    assert "TODO" in text and "labels.txt" in text and "vocab.txt" in text
    spec = yaml.safe_load(text)
    assert {name: entry["modality"] for name, entry in spec["inputs"].items()} == {
        "image": "image",
        "audio": "audio",
        "text": "text",
    }
    assert spec["outputs"] == {
        "label": {"kind": "classification", "labels": "labels.txt"},
        "embedding": {"kind": "embedding"},
    }
    assert "copy" in result.stderr and "model.keras" in result.stderr

    shutil.copy(model_file, bundle / "model.keras")
    with pytest.raises(BundleError, match="vocabulary file .* is missing"):
        load_bundle(bundle)
    # What the TODOs ask a user for: the vocabulary and the labels files.
    (bundle / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    (bundle / "labels.txt").write_text("\n".join(LABELS) + "\n")
    loaded = load_bundle(bundle)
    assert loaded.outputs["label"].labels == LABELS
    assert loaded.inputs["audio"].shape == (26, 13)


def test_refuses_to_overwrite(models_dir, tmp_path):
    bundle = tmp_path / "tiny" / "1"
    shutil.copytree(models_dir / "tiny" / "1", bundle)
    before = (bundle / "bundle.yaml").read_text()
    result = run_cli("init-bundle", str(bundle / "model.keras"))
    assert result.returncode == 1
    assert "already exists; not overwriting it" in result.stderr
    assert (bundle / "bundle.yaml").read_text() == before


def test_refuses_what_is_not_a_model(tmp_path):
    notes = tmp_path / "model.txt"
    notes.write_text("weights\n")
    result = CliRunner().invoke(init_bundle, [str(notes)])
    assert result.exit_code == 1
    assert "expected a .keras or .h5 file or a SavedModel folder, got '.txt'" in result.stderr
    folder = tmp_path / "export"
    folder.mkdir()
    result = CliRunner().invoke(init_bundle, [str(folder)])
    assert result.exit_code == 1
    assert "a folder without saved_model.pb: not a SavedModel" in result.stderr
    assert not (tmp_path / "bundle.yaml").exists()


def test_a_lambda_layer_is_refused_in_one_line(tmp_path):
    import keras

    x = keras.Input((4,), name="x")
    y = keras.layers.Lambda(lambda t: t * 2.0, name="y")(x)
    model_file = tmp_path / "lambda.h5"
    keras.Model(x, y).save(model_file)
    result = CliRunner().invoke(init_bundle, [str(model_file)])
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot be loaded safely" in lines[0]
    assert not (tmp_path / "bundle.yaml").exists()
