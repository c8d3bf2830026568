"""The per-stage cost table (bench.stages, rendered by bench.stages_report) on the tiny test
bundle: every stage measured, and the stages add up to about what the whole Predictor.predict path
costs measured the same way."""

from __future__ import annotations

from pathlib import Path

from bench import stages
from bench.stages_report import STAGES, write
from bench.workload import Workload, photo_jpeg, speech_wav

REPEATS = 5
# One request's stages against Predictor.predict at batch 1: the path adds the batcher's thread
# hand-off, slot and metrics bookkeeping, and measures noisily on a shared machine; a sum far off
# in either direction means a stage is missing, double counted or timed on the wrong clock.
SANE_FACTOR = 3.0


def tiny_workload() -> Workload:
    return Workload(
        image=photo_jpeg(size=(320, 240)),
        audio=speech_wav(seconds=1.0),
        text="small dog barking near the street",
    )


def test_every_stage_is_measured_and_adds_up_to_the_predict_path(models_dir: Path):
    result = stages.measure(models_dir / "tiny" / "1", tiny_workload(), repeats=REPEATS)
    measured = result["stages"]
    assert set(measured) == {key for key, _, _ in STAGES}
    for key, figures in measured.items():
        assert figures["cpu_ms"] > 0, key
        assert figures["wall_ms"] > 0, key
    # The predict path is one request alone: inference at batch 1, as the stages counted so.
    counted = [key for key, _, summed in STAGES if summed and key != "inference_max"]
    total = sum(measured[key]["cpu_ms"] for key in counted) + measured["inference_b1"]["cpu_ms"]
    path = result["predict_path"]["cpu_ms"]
    assert path / SANE_FACTOR < total < path * SANE_FACTOR, (total, path, measured)
    # The floors are named for every stage, and the one-liners carry a measured figure.
    assert set(result["floors"]) == set(measured)
    for key in ("image_decode", "resample", "json"):
        assert "measured" in result["floors"][key], result["floors"][key]


def test_table_and_chart_from_a_measurement(tmp_path: Path):
    section = {
        "in_process": {
            "repeats": 1,
            "max_batch": 4,
            "loadavg": [0.5, 0.5, 0.5],
            "stages": {key: {"cpu_ms": 1.0, "wall_ms": 1.5} for key, _, _ in STAGES},
            "predict_path": {"cpu_ms": 13.0, "wall_ms": 14.0},
            "floors": {key: "f" for key, _, _ in STAGES},
            "inference_per_batch": {"1": {"cpu_ms": 1.0}, "4": {"cpu_ms": 2.0}},
        },
        "live": {
            "concurrency": 8,
            "throughput_rps": 50.0,
            "server_cpu_ms_per_request": 16.0,
            "timing_ms": {"preprocess": 9.0},
            "metrics_means": {"mms_batch_size": {"mean": 2.0, "count": 10}},
        },
    }
    files = write(section, tmp_path)
    table = Path(files["table"]).read_text()
    summed = sum(1 for _, _, counted in STAGES if counted)
    assert f"| **in-process sum** | {summed:.2f} |" in table
    # A batch of 2 lies a third of the way from 1 row (1 ms) to 4 rows (2 ms): 4/3 ms, so the
    # model costs 2/3 ms per sample at the live mean batch instead of 1 ms at the max batch.
    at_live_batch = summed - 1.0 + (4.0 / 3.0) / 2
    assert f"live mean batch 2.0** | {at_live_batch:.2f} |" in table
    assert f"| {16.0 - at_live_batch:.2f} |" in table  # the overhead row: live minus that sum
    assert Path(files["chart"]).read_bytes().startswith(b"\x89PNG")
