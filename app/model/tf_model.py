"""A bundle's model behind one compiled function, fed batches padded to a few fixed sizes."""

from __future__ import annotations

from typing import Any

import numpy as np

from app.model.bundle import Bundle


def is_string(dtype: np.dtype) -> bool:
    """Whether an input takes strings: NumPy holds them as objects (UTF-8 ``bytes``)."""
    return np.dtype(dtype).kind == "O"


def blank(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Filler rows: zeros, or empty byte strings for a string input."""
    if is_string(dtype):
        return np.full(shape, b"", dtype=object)
    return np.zeros(shape, dtype)


def bucket_sizes(max_batch_size: int) -> tuple[int, ...]:
    """Powers of two up to ``max_batch_size``, and ``max_batch_size`` itself."""
    sizes, size = [], 1
    while size < max_batch_size:
        sizes.append(size)
        size *= 2
    return (*sizes, max_batch_size)


class CompiledModel:
    """Runs a bundle's model as a ``tf.function`` with a fixed signature (no ``model.predict``)."""

    def __init__(self, bundle: Bundle, *, device: str, max_batch_size: int) -> None:
        import tensorflow as tf

        self._tf = tf
        self._model = bundle.model
        self._device = device
        self._output_names = list(bundle.outputs)
        self._inputs = {name: (spec.shape, spec.dtype) for name, spec in bundle.inputs.items()}
        self.buckets = bucket_sizes(max_batch_size)
        signature = {
            name: tf.TensorSpec(
                (None, *spec.shape), tf.string if is_string(spec.dtype) else spec.dtype, name=name
            )
            for name, spec in bundle.inputs.items()
        }
        self._fn = tf.function(self._forward, input_signature=[signature])

    def _forward(self, inputs: dict[str, Any]) -> dict[str, Any]:
        outputs = self._model(inputs)
        return {name: outputs[name] for name in self._output_names}

    @property
    def trace_count(self) -> int:
        """How often the function was traced; constant after warm-up when shapes are stable."""
        return self._fn.experimental_get_tracing_count()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Outputs for a batch of rows, computed at the next bucket size and sliced back."""
        rows = len(next(iter(batch.values())))
        size = next((b for b in self.buckets if b >= rows), rows)
        if size != rows:
            batch = {
                name: np.concatenate([x, blank((size - rows, *x.shape[1:]), x.dtype)])
                for name, x in batch.items()
            }
        with self._tf.device(self._device):
            outputs = self._fn(batch)
        return {name: value.numpy()[:rows] for name, value in outputs.items()}

    def warm_up(self) -> None:
        """Run every bucket size once so the first requests pay no tracing or allocation."""
        for size in self.buckets:
            self(
                {
                    name: blank((size, *shape), dtype)
                    for name, (shape, dtype) in self._inputs.items()
                }
            )
