"""The pipeline limit: the service's preprocessing and compiled batched inference, no HTTP.

Usage: ``python -m bench.pipeline BUNDLE_DIR WORKLOAD_DIR [--duration S] [--out FILE]``.
A thread pool preprocesses the workload (the decoders release the GIL) and keeps batches of
``--batch`` rows ready while the main thread runs the compiled model on the previous one, so both
cores stay busy. Also profiles each stage alone (one thread) to show where the time goes.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from bench.workload import Workload

PROFILE_REPEATS = 10


def _prepare(bundle: Any, workload: Workload) -> dict[str, np.ndarray]:
    return {
        spec.name: spec.preprocessor(getattr(workload, spec.modality))
        for spec in bundle.inputs.values()
    }


def profile(bundle: Any, compiled: Any, workload: Workload, batch: int) -> dict[str, float]:
    """Mean milliseconds of each preprocessor and of one model call at batch 1 and ``batch``."""
    result: dict[str, float] = {}
    for spec in bundle.inputs.values():
        data = getattr(workload, spec.modality)
        start = time.perf_counter()
        for _ in range(PROFILE_REPEATS):
            spec.preprocessor(data)
        result[f"preprocess_{spec.modality}_ms"] = _ms(start, PROFILE_REPEATS)
    row = _prepare(bundle, workload)
    for size in sorted({1, batch}):
        stacked = {name: np.stack([x] * size) for name, x in row.items()}
        compiled(stacked)
        start = time.perf_counter()
        for _ in range(PROFILE_REPEATS):
            compiled(stacked)
        result[f"inference_batch{size}_ms"] = _ms(start, PROFILE_REPEATS)
    return result


def _ms(start: float, repeats: int) -> float:
    return round((time.perf_counter() - start) * 1000.0 / repeats, 2)


def run_pipeline(
    bundle: Any, compiled: Any, workload: Workload, *, batch: int, threads: int, seconds: float
) -> tuple[int, float]:
    """Samples completed and elapsed seconds of a preprocess-and-infer loop for ``seconds``."""
    in_flight: collections.deque[Future] = collections.deque()
    done, start = 0, time.perf_counter()
    with ThreadPoolExecutor(threads, thread_name_prefix="preprocess") as pool:
        while len(in_flight) < 2 * batch:
            in_flight.append(pool.submit(_prepare, bundle, workload))
        while time.perf_counter() - start < seconds:
            rows = [in_flight.popleft().result() for _ in range(batch)]
            for _ in range(batch):
                in_flight.append(pool.submit(_prepare, bundle, workload))
            compiled({name: np.stack([r[name] for r in rows]) for name in rows[0]})
            done += batch
        for future in in_flight:
            future.cancel()
    return done, time.perf_counter() - start


def measure(
    bundle_dir: Path,
    workload_dir: Path,
    *,
    seconds: float,
    warmup_s: float,
    batch: int,
    threads: int,
    intra_op: int,
    inter_op: int,
) -> dict[str, Any]:
    """Load the bundle as the service does, profile the stages, then run the pipeline."""
    import tensorflow as tf

    if intra_op:
        tf.config.threading.set_intra_op_parallelism_threads(intra_op)
    if inter_op:
        tf.config.threading.set_inter_op_parallelism_threads(inter_op)
    from app.model.bundle import load_bundle
    from app.model.tf_model import CompiledModel

    workload = Workload.load(workload_dir)
    bundle = load_bundle(bundle_dir)
    compiled = CompiledModel(bundle, device="/CPU:0", max_batch_size=batch)
    compiled.warm_up()
    _prepare(bundle, workload)
    stages = profile(bundle, compiled, workload, batch)
    run_pipeline(bundle, compiled, workload, batch=batch, threads=threads, seconds=warmup_s)
    cpu = time.process_time()
    samples, elapsed = run_pipeline(
        bundle, compiled, workload, batch=batch, threads=threads, seconds=seconds
    )
    return {
        "samples": samples,
        "duration_s": round(elapsed, 3),
        "throughput_sps": round(samples / elapsed, 3),
        "cpu_cores": round((time.process_time() - cpu) / elapsed, 3),
        "batch": batch,
        "preprocess_threads": threads,
        "tf_intra_op_threads": intra_op,
        "tf_inter_op_threads": inter_op,
        "trace_count": compiled.trace_count,
        "stages_single_thread": stages,
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: measure and print (or write) the result as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle_dir", type=Path)
    parser.add_argument("workload_dir", type=Path)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--intra-op", type=int, default=0)
    parser.add_argument("--inter-op", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write the JSON here instead of stdout")
    args = parser.parse_args(argv)
    result = measure(
        args.bundle_dir,
        args.workload_dir,
        seconds=args.duration,
        warmup_s=args.warmup,
        batch=args.batch,
        threads=args.threads,
        intra_op=args.intra_op,
        inter_op=args.inter_op,
    )
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
