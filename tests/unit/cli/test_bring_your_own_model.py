"""``init-bundle`` then ``check`` on each kind of model users bring: the skeleton has no
``modality: TODO``, and once only the asset files are added the bundle serves every output."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from app.cli.check import check
from app.cli.init_bundle import init_bundle
from tests.support import example_models as em
from tests.support.cli import run_cli

# kind -> (how the user saved it, relative to the export folder; the bundle's name for it)
KINDS = {
    "keras": ("seed/classifier.keras", "model.keras"),
    "h5": ("seed/classifier.h5", "model.h5"),
    "saved_model": ("seed/export", "saved_model"),
    "inside": ("inside/model.keras", "model.keras"),
    "transformer": ("transformer/text_tower.h5", "model.h5"),
    "two_photos": ("two_photos/model.keras", "model.keras"),
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every example model saved once, as its author would, under one export folder."""
    root = tmp_path_factory.mktemp("exported")
    seed = em.seed_articles_model()
    em.save_keras(seed, root / "seed", "classifier.keras")
    em.save_keras(seed, root / "seed", "classifier.h5")
    em.save_saved_model(seed, root / "seed" / "export")
    em.save_keras(em.preprocessing_inside_model(), root / "inside", "model.keras")
    vocab_size = em.train_tokenizer(root / "tokenizer.json")
    em.save_keras(em.transformer_text_model(vocab_size), root / "transformer", "text_tower.h5")
    em.save_keras(em.two_photos_model(), root / "two_photos", "model.keras")
    return root


def _init(exported: Path, kind: str, bundle: Path) -> tuple[dict, str]:
    """init-bundle on the kind's model into ``bundle``; (the YAML read, its text)."""
    source, target = KINDS[kind]
    result = CliRunner().invoke(init_bundle, [str(exported / source), "--out", str(bundle)])
    assert result.exit_code == 0, result.output
    assert f"next: copy {exported / source}" in result.stderr
    assert str(bundle / target) in result.stderr
    text = (bundle / "bundle.yaml").read_text(encoding="utf-8")
    assert "modality: TODO" not in text and "kind: TODO" not in text
    return yaml.safe_load(text), text


def _complete(exported: Path, kind: str, bundle: Path) -> list[str]:
    """What a user does next: the model under its bundle name, then only the asset files."""
    source, target = KINDS[kind]
    if (exported / source).is_dir():
        shutil.copytree(exported / source, bundle / target)
    else:
        shutil.copy(exported / source, bundle / target)
    return em.add_assets(bundle, exported / "tokenizer.json")


def _check(bundle: Path) -> dict:
    result = CliRunner().invoke(check, [str(bundle)])
    assert result.exit_code == 0, result.output
    assert "is a valid bundle" in result.stderr
    return yaml.safe_load(result.stdout)


@pytest.mark.slow  # saves and loads six models
@pytest.mark.parametrize("kind", list(KINDS))
def test_init_bundle_then_check(exported, tmp_path, kind):
    bundle = tmp_path / "models" / kind / "1"
    spec, _ = _init(exported, kind, bundle)
    _complete(exported, kind, bundle)
    report = _check(bundle)
    sample = report["sample_prediction"]
    assert sample["parts"] == sorted(report["parts"])
    assert set(sample["outputs"]) == set(spec["outputs"]) == set(report["outputs"])
    for name, out in report["outputs"].items():
        answer = sample["outputs"][name]
        if out["kind"] == "classification":
            assert len(answer) == min(3, out["labels"])
            assert {"label", "score"} == set(answer[0])
        elif out["kind"] == "multilabel":
            assert all(row["score"] >= out["threshold"] for row in answer)
        elif out["kind"] == "regression":
            assert len(answer) == out["shape"][1]
        else:
            assert answer == {"length": out["shape"][1]}
    assert report["model"]["format"] == {"model.keras": "keras", "model.h5": "h5"}.get(
        KINDS[kind][1], "saved_model"
    )


def test_the_seed_articles_model_guesses(exported, tmp_path):
    spec, text = _init(exported, "h5", tmp_path / "seed" / "1")
    inputs = spec["inputs"]
    assert {name: entry["modality"] for name, entry in inputs.items()} == {
        "text": "text",
        "image": "image",
        "audio": "audio",
    }
    assert not any("part" in entry for entry in inputs.values())  # one input per modality
    assert inputs["text"]["params"]["vocabulary"] == "vocab.txt"
    assert inputs["audio"]["params"]["features"] == "mfcc"
    assert inputs["image"]["params"]["scale"] == "unit"
    assert "keras.applications backbone" in text and "caffe" in text and "torch" in text
    # Two labelled heads: a labels file each.
    assert spec["outputs"] == {
        "label": {"kind": "classification", "labels": "label_labels.txt"},
        "tags": {"kind": "multilabel", "labels": "tags_labels.txt", "threshold": 0.5},
    }


def test_the_same_model_gets_the_same_guesses_in_every_format(exported, tmp_path):
    keras_spec, _ = _init(exported, "keras", tmp_path / "keras" / "1")
    # A SavedModel keeps no layers: its softmax and sigmoid are told from its scores.
    saved_spec, _ = _init(exported, "saved_model", tmp_path / "saved_model" / "1")
    assert saved_spec == keras_spec


def test_a_model_with_its_preprocessing_inside(exported, tmp_path):
    spec, text = _init(exported, "inside", tmp_path / "inside" / "1")
    sentence, photo, wave = (spec["inputs"][name] for name in ("sentence", "photo", "wave"))
    assert sentence["modality"] == "text"
    assert sentence["params"] == {"tokenizer": "raw", "lowercase": False}
    assert photo["modality"] == "image" and photo["params"]["scale"] == "none"
    assert wave["modality"] == "audio"
    assert wave["params"] == {"features": "waveform", "sample_rate": 16000, "duration_s": 1.0}
    assert "a guess" in text  # the rate is one
    assert spec["outputs"]["tags"] == {
        "kind": "multilabel",
        "labels": "labels.txt",
        "threshold": 0.5,
    }
    assert spec["outputs"]["price"] == {"kind": "regression"}
    assert "# names: [price_0, price_1]" in text and "embedding" in text


def test_a_transformer_text_tower(exported, tmp_path):
    spec, text = _init(exported, "transformer", tmp_path / "transformer" / "1")
    for feed in ("input_ids", "attention_mask"):
        assert spec["inputs"][feed] == {
            "modality": "text",
            "part": "text",
            "missing": "zeros",
            "params": {"tokenizer": "hf", "tokenizer_file": "tokenizer.json", "feed": feed},
        }
    assert "vocab.txt" not in text
    assert "the tokenizer.json the model was trained with" in text


def test_two_photos_of_one_item(exported, tmp_path):
    spec, _ = _init(exported, "two_photos", tmp_path / "two_photos" / "1")
    assert {name: (e["modality"], e["part"]) for name, e in spec["inputs"].items()} == {
        "front": ("image", "front"),
        "back": ("image", "back"),
    }


@pytest.mark.slow  # a process per model
def test_check_as_a_user_runs_it(exported, tmp_path):
    """The whole path through ``python -m app``, for the model with everything inside."""
    bundle = tmp_path / "models" / "inside" / "1"
    source, _ = KINDS["inside"]
    made = run_cli("init-bundle", str(exported / source), "--out", str(bundle))
    assert made.returncode == 0, made.stderr
    assert _complete(exported, "inside", bundle) == ["labels.txt"]
    result = run_cli("check", str(bundle))
    assert result.returncode == 0, result.stderr
    report = yaml.safe_load(result.stdout)
    assert report["parts"]["text"]["inputs"] == ["sentence"]
    assert report["inputs"]["sentence"]["dtype"] == "string"
    assert set(report["sample_prediction"]["outputs"]) == {"tags", "price"}
    assert "Traceback" not in result.stderr
