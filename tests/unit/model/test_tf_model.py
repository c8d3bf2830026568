"""CompiledModel: same numbers as the plain Keras call, fixed buckets, no retracing."""

from __future__ import annotations

import numpy as np
import pytest

from app.model.bundle import load_bundle
from app.model.tf_model import CompiledModel, bucket_sizes
from tests.support.bundles import write_bundle


@pytest.mark.parametrize("max_size,buckets", [(1, (1,)), (8, (1, 2, 4, 8)), (12, (1, 2, 4, 8, 12))])
def test_bucket_sizes(max_size, buckets):
    assert bucket_sizes(max_size) == buckets


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return load_bundle(write_bundle(tmp_path_factory.mktemp("m")))


def _batch(bundle, rows, seed=0):
    rng = np.random.default_rng(seed)
    return {
        name: (
            rng.integers(0, 9, (rows, *s.shape))
            if s.dtype.kind == "i"
            else rng.random((rows, *s.shape))
        ).astype(s.dtype)
        for name, s in bundle.inputs.items()
    }


def test_matches_plain_keras_call_and_never_retraces(bundle):
    compiled = CompiledModel(bundle, device="/CPU:0", max_batch_size=8)
    compiled.warm_up()
    traces = compiled.trace_count
    for rows in (1, 3, 5, 8, 2, 7):
        batch = _batch(bundle, rows, seed=rows)
        got = compiled(batch)
        want = bundle.model.model(batch, training=False)
        for name in bundle.outputs:
            assert got[name].shape[0] == rows
            np.testing.assert_allclose(got[name], np.asarray(want[name]), rtol=1e-5, atol=1e-6)
    assert compiled.trace_count == traces
