"""ONNX Runtime behind the same bundle: Keras outputs, or TensorFlow with the reason logged."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest

from app.model.backend import build_inference
from app.model.bundle import load_bundle
from app.model.device import Device
from app.model.onnx_model import OnnxModel, probe_batch
from app.model.tf_model import CompiledModel
from tests.support.reference import BUNDLE, SAMPLES
from training.evaluate_digits import sample_pools

CPU = Device(tf_name="/CPU:0", description="CPU:0")
TOLERANCE = 1e-4  # the shipped onnx_parity_tolerance, on probabilities


@pytest.fixture
def onnx_settings(settings, tmp_path):
    return dataclasses.replace(settings, inference_runtime="onnx", onnx_cache_dir=str(tmp_path))


def test_tiny_bundle_runs_on_onnx_runtime_with_keras_outputs(onnx_settings, models_dir, tmp_path):
    bundle = load_bundle(models_dir / "tiny" / "1")
    (tmp_path / "tiny-1-0123456789abcdef0123.onnx").write_bytes(b"an export of a replaced file")
    inference = build_inference(bundle, onnx_settings, CPU, max_batch_size=4)
    assert inference.runtime == "onnxruntime" and isinstance(inference.model, OnnxModel)
    # Cached with its parity record; no partial files left, and the stale export is gone.
    record = inference.model.path.with_suffix(".parity.json")
    assert sorted(tmp_path.iterdir()) == sorted([inference.model.path, record])
    keras = CompiledModel(bundle, device="/CPU:0", max_batch_size=4)
    for rows in (1, 3, 4, 7):  # 7: more rows than a chunk and than the largest bucket
        batch = probe_batch(bundle, rows, seed=rows)
        got, want = inference.model(batch), keras(batch)
        for name in want:
            assert got[name].shape == want[name].shape
            assert np.abs(got[name] - want[name]).max() <= TOLERANCE
            assert (got[name].argmax(-1) == want[name].argmax(-1)).all()
    # The second load finds the export in the cache instead of exporting again.
    again = build_inference(bundle, onnx_settings, CPU, max_batch_size=4)
    assert again.model.path == inference.model.path


def test_reference_bundle_held_out_samples_agree(tmp_path):
    bundle = load_bundle(BUNDLE)
    keras = CompiledModel(bundle, device="/CPU:0", max_batch_size=16)
    keras.warm_up()
    from app.model.onnx_model import export_cached

    onnx = OnnxModel(
        bundle, export_cached(bundle, tmp_path), max_batch_size=16, threads=1, chunk_size=4
    )
    pools = sample_pools(bundle, SAMPLES)
    n = min(len(labels) for _, labels in pools.values())
    checked = 0
    # Each modality alone (the others zero, as the service fills a missing part), then all three.
    for only in (*pools, None):
        batch = {
            name: features[:n] if only in (None, name) else np.zeros_like(features[:n])
            for name, (features, _) in pools.items()
        }
        got, want = onnx(batch)["digit"], keras(batch)["digit"]
        assert np.abs(got - want).max() <= TOLERANCE
        assert (got.argmax(-1) == want.argmax(-1)).all()
        checked += n
    assert checked >= 4 * 10


def _parity_logs(caplog) -> list[str]:
    return [r.parity for r in caplog.records if getattr(r, "event", "") == "inference_runtime"]


def test_a_cached_export_reuses_its_parity_record(onnx_settings, models_dir, tmp_path, caplog):
    bundle = load_bundle(models_dir / "tiny" / "1")
    with caplog.at_level(logging.INFO, logger="app.model.backend"):
        first = build_inference(bundle, onnx_settings, CPU, max_batch_size=4)
        again = build_inference(bundle, onnx_settings, CPU, max_batch_size=4)
    assert first.runtime == again.runtime == "onnxruntime"
    assert _parity_logs(caplog) == ["measured", "recorded"]  # the second skips the Keras probe
    record_file = first.model.path.with_suffix(".parity.json")
    record = json.loads(record_file.read_text())
    assert record["probe_rows"] == 2 and 0.0 <= record["max_abs_diff"] <= TOLERANCE
    # A record from another ONNX Runtime (or an unreadable one) is measured again.
    for stale in ({**record, "onnxruntime": "0.0.1"}, "not json"):
        record_file.write_text(json.dumps(stale) if isinstance(stale, dict) else stale)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="app.model.backend"):
            build_inference(bundle, onnx_settings, CPU, max_batch_size=4)
        assert _parity_logs(caplog) == ["measured"]
    # The recorded difference is still held to today's tolerance.
    record_file.write_text(json.dumps({**record, "max_abs_diff": 0.5}))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="app.model.backend"):
        fallen = build_inference(bundle, onnx_settings, CPU, max_batch_size=4)
    assert fallen.runtime == "tensorflow" and "differ from Keras by 0.5" in caplog.text


def test_parity_failure_falls_back_to_tensorflow(onnx_settings, models_dir, caplog):
    bundle = load_bundle(models_dir / "tiny" / "1")
    strict = dataclasses.replace(onnx_settings, onnx_parity_tolerance=0.0)
    with caplog.at_level(logging.WARNING, logger="app.model.backend"):
        inference = build_inference(bundle, strict, CPU, max_batch_size=4)
    assert inference.runtime == "tensorflow" and isinstance(inference.model, CompiledModel)
    assert "ONNX outputs differ from Keras by" in caplog.text
    assert inference.model(probe_batch(bundle, 2))["label"].shape[0] == 2


def test_export_failure_falls_back_to_tensorflow(onnx_settings, models_dir, tmp_path, caplog):
    bundle = load_bundle(models_dir / "tiny" / "1")
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder should be")
    settings = dataclasses.replace(onnx_settings, onnx_cache_dir=str(blocked))
    with caplog.at_level(logging.WARNING, logger="app.model.backend"):
        inference = build_inference(bundle, settings, CPU, max_batch_size=4)
    assert inference.runtime == "tensorflow"
    assert "export or ONNX Runtime failed" in caplog.text


def test_auto_keeps_tensorflow_off_the_cpu(onnx_settings, models_dir):
    bundle = load_bundle(models_dir / "tiny" / "1")
    auto = dataclasses.replace(onnx_settings, inference_runtime="auto")
    gpu = Device(tf_name="/GPU:0", description="GPU:0 (test)")
    assert build_inference(bundle, auto, gpu, max_batch_size=4).runtime == "tensorflow"
    assert build_inference(bundle, auto, CPU, max_batch_size=4).runtime == "onnxruntime"


def test_unknown_runtime_is_refused(settings, models_dir):
    bundle = load_bundle(models_dir / "tiny" / "1")
    wrong = dataclasses.replace(settings, inference_runtime="tensorrt")
    with pytest.raises(ValueError, match="inference_runtime"):
        build_inference(bundle, wrong, CPU, max_batch_size=4)


READ_ONLY_PROBE = """
import dataclasses, json, sys
from pathlib import Path
from app.model.bundle import load_bundle
from app.model.device import Device
from app.model.backend import build_inference
from app.settings import load_settings
settings = dataclasses.replace(
    load_settings(environ={}), inference_runtime="onnx", onnx_cache_dir=sys.argv[2]
)
inference = build_inference(
    load_bundle(Path(sys.argv[1])), settings, Device("/CPU:0", "CPU:0"), max_batch_size=2
)
print(json.dumps({"runtime": inference.runtime, "path": str(getattr(inference.model, "path", ""))}))
"""


@pytest.mark.slow  # a process in its own mount namespace
def test_a_read_only_cache_without_the_export_exports_to_the_temp_dir(models_dir, tmp_path):
    """As a mounted bundle in an image whose shipped cache is read-only: ONNX all the same."""
    import subprocess
    import sys

    cache, temp = tmp_path / "shipped-cache", tmp_path / "tmp"
    cache.mkdir()
    temp.mkdir()
    # A read-only bind mount in a mount namespace of its own (root cannot be refused otherwise).
    script = (
        f"mount --bind {cache} {cache} && mount -o remount,bind,ro {cache} && "
        f'exec {sys.executable} -c "$0" {models_dir / "tiny" / "1"} {cache}'
    )
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, READ_ONLY_PROBE],
        capture_output=True,
        text=True,
        env={**os.environ, "TMPDIR": str(temp)},
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["runtime"] == "onnxruntime"
    assert Path(answer["path"]).parent == temp / "mms-onnx"
    assert list(cache.iterdir()) == []
