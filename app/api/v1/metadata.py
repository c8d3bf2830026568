"""The v1 protocol's model list and model metadata, made from the registry's model-side facts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # the model layer pulls in TensorFlow, which the health routes must not wait on
    from app.model.outputs import OutputSpec
    from app.model.registry import ModelRegistry

# NumPy holds string tensors as objects; v1 calls their dtype "string".
STRING_DTYPE = np.dtype(object)


def model_list(registry: ModelRegistry, *, ready: bool) -> list[dict[str, Any]]:
    """One line per model for GET /v1/models."""
    return [
        {
            "name": name,
            "versions": [str(v) for v in versions],
            "served_version": str(registry.served[name]),
            "ready": ready,
        }
        for name, versions in registry.versions.items()
    ]


def model_metadata(registry: ModelRegistry, name: str, *, ready: bool) -> dict[str, Any]:
    """GET /v1/models/{name}: versions, parts, inputs, outputs, runtime and device of one model."""
    served = registry.served_model(name)
    bundle = served.bundle
    max_bytes = registry.settings.max_part_bytes
    described = {
        "name": name,
        "versions": [str(v) for v in registry.versions[name]],
        "served_version": str(registry.served[name]),
        "ready": ready,
        "description": bundle.description,
        "device": served.device.description,
        "runtime": served.runtime,
        "model_format": bundle.model.format,
        "parts": [
            {
                "name": part.name,
                "modality": part.modality,
                "required": part.missing == "required",
                "accepted_formats": list(part.accepted_formats),
                "max_bytes": max_bytes.get(part.modality),
                "inputs": [spec.name for spec in part.inputs],
            }
            for part in bundle.parts.values()
        ],
        "inputs": [
            {
                "name": spec.name,
                "modality": spec.modality,
                "part": spec.part,
                **({"feed": spec.feed} if spec.feed else {}),
                "required": spec.missing == "required",
                "missing": spec.missing,
                "shape": [None, *spec.shape],
                "dtype": "string" if spec.dtype == STRING_DTYPE else spec.dtype.name,
                "accepted_formats": list(spec.preprocessor.accepted_formats),
                "max_bytes": max_bytes.get(spec.modality),
                "preprocessing": spec.preprocessor.describe(),
            }
            for spec in bundle.inputs.values()
        ],
        "outputs": [_output(out) for out in bundle.outputs.values()],
    }
    if served.runtime_note:
        described["runtime_note"] = served.runtime_note
    return described


def _output(out: OutputSpec) -> dict[str, Any]:
    described: dict[str, Any] = {"name": out.name, "kind": out.kind, "shape": [None, *out.shape]}
    if out.labels:
        described["labels"] = list(out.labels)
    if out.kind == "multilabel":
        described["threshold"] = out.threshold
    if out.names:
        described["names"] = list(out.names)
    return described
