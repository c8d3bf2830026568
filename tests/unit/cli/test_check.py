"""``check``: a good bundle prints its signature and a sample answer; a bad one, one clear line."""

from __future__ import annotations

import shutil

import pytest
import yaml
from click.testing import CliRunner

from app.cli.check import check
from tests.support.bundles import LABELS, TEXT_LENGTH, bundle_yaml, write_bundle
from tests.support.cli import run_cli
from tests.support.server import ROOT

# Most tests run `python -m app check` as a process.
pytestmark = pytest.mark.slow


def test_check_the_reference_bundle():
    result = run_cli("check", "models/digits/1")
    assert result.returncode == 0, result.stderr
    report = yaml.safe_load(result.stdout)
    assert report["bundle"]["name"] == "digits" and report["bundle"]["version"] == 1
    assert report["inputs"]["image"]["modality"] == "image"
    assert report["inputs"]["image"]["shape"] == [None, 28, 28, 1]
    assert report["inputs"]["audio"]["preprocessing"]["features"] == "log_mel"
    assert report["inputs"]["text"]["dtype"] == "int32"
    assert report["model"] == {"file": "model.keras", "format": "keras"}
    assert report["parts"]["image"] == {
        "modality": "image",
        "missing": "zeros",
        "inputs": ["image"],
        "accepted_formats": report["parts"]["image"]["accepted_formats"],
    }
    assert set(report["parts"]) == {"image", "audio", "text"}
    assert report["outputs"]["digit"] == {
        "kind": "classification",
        "shape": [None, 10],
        "labels": 10,
    }
    sample = report["sample_prediction"]
    assert sample["parts"] == ["audio", "image", "text"]
    assert len(sample["outputs"]["digit"]) == 3
    assert set(sample["timing_ms"]) == {"preprocess", "queue", "inference", "total"}
    assert "is a valid bundle" in result.stderr
    # stderr is not a terminal here: no progress bar control characters.
    assert "\x1b[" not in result.stderr


def test_check_a_bundle_whose_labels_disagree_with_its_model(models_dir, tmp_path):
    bundle = tmp_path / "tiny" / "1"
    shutil.copytree(models_dir / "tiny" / "1", bundle)
    (bundle / "labels.txt").write_text("cat\ndog\n")
    result = run_cli("check", str(bundle))
    assert result.returncode == 3
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: bundle tiny/1")
    assert "labels.txt has 2 labels but the model output has 3 units" in last


def test_check_a_model_that_fails_on_the_sample_says_one_line(tmp_path):
    # One embedding row: the sample text's out-of-vocabulary id (1) is out of its range, so the
    # model raises while serving (TensorFlow's InvalidArgumentError, or ONNX Runtime's own).
    import keras

    text = keras.Input((TEXT_LENGTH,), name="text", dtype="int32")
    pooled = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(1, 4)(text))
    label = keras.layers.Dense(len(LABELS), activation="softmax", name="label")(pooled)
    model = keras.Model({"text": text}, {"label": label})
    spec = bundle_yaml()
    spec["inputs"] = {"text": spec["inputs"]["text"]}
    spec["outputs"] = {"label": spec["outputs"]["label"]}
    bundle = write_bundle(tmp_path, "broken", model=model, spec=spec)
    result = CliRunner().invoke(check, [str(bundle)])
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {bundle}")


def test_check_a_folder_that_is_not_a_bundle(tmp_path):
    result = run_cli("check", str(tmp_path))
    assert result.returncode == 3
    assert "a bundle folder is <models>/<name>/<version>" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_a_missing_model_file(tmp_path):
    bundle = tmp_path / "m" / "1"
    bundle.mkdir(parents=True)
    shutil.copy(ROOT / "models" / "digits" / "1" / "bundle.yaml", bundle)
    result = run_cli("check", str(bundle))
    assert result.returncode == 3
    assert "no model: expected one of model.keras, model.h5, saved_model/" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_a_model_file_that_is_not_one(tmp_path):
    bundle = tmp_path / "m" / "1"
    bundle.mkdir(parents=True)
    shutil.copy(ROOT / "models" / "digits" / "1" / "bundle.yaml", bundle)
    (bundle / "model.h5").write_bytes(b"not an HDF5 file")
    result = run_cli("check", str(bundle))
    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: bundle m/1") and "model.h5 cannot be loaded safely" in last
