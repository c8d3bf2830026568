"""``check``: a good bundle prints its signature and a sample answer; a bad one, one clear line."""

from __future__ import annotations

import shutil

import yaml

from tests.cli import run_cli
from tests.server import ROOT


def test_check_the_reference_bundle():
    result = run_cli("check", "models/digits/1")
    assert result.returncode == 0, result.stderr
    report = yaml.safe_load(result.stdout)
    assert report["bundle"]["name"] == "digits" and report["bundle"]["version"] == 1
    assert report["inputs"]["image"]["modality"] == "image"
    assert report["inputs"]["image"]["shape"] == [None, 28, 28, 1]
    assert report["inputs"]["audio"]["preprocessing"]["features"] == "log_mel"
    assert report["inputs"]["text"]["dtype"] == "int32"
    assert report["outputs"]["digit"] == {
        "kind": "classification",
        "shape": [None, 10],
        "labels": 10,
    }
    sample = report["sample_prediction"]
    assert sample["inputs"] == ["audio", "image", "text"]
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
    assert "model.keras is missing" in result.stderr
