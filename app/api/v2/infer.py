"""Open Inference Protocol requests run on a Predictor: tensors in, samples through, tensors out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from app.api.v2.codec import InferRequest, RequestedOutput, Tensor, datatype_of
from app.errors import BadRequest, PayloadTooLarge
from app.settings import Settings

if TYPE_CHECKING:  # the predictor pulls in the decoders, which the health routes must not wait on
    from app.model.bundle import Bundle
    from app.model.predictor import Instance, Predictor

CLASSIFICATION = "classification"


def infer(
    predictor: Predictor, request: InferRequest, settings: Settings
) -> tuple[list[Tensor], set[str]]:
    """The output tensors for ``request`` and the names of those to send as binary data."""
    bundle = predictor.bundle
    wanted = _requested_outputs(bundle, request)
    instances, features = _samples(bundle, request.inputs, settings)
    rows = predictor.infer(instances, features)
    tensors = []
    for output in wanted:
        values = np.stack([row[output.name] for row in rows]).astype(np.float32)
        count = output.parameters.get(CLASSIFICATION)
        if count is None:
            tensors.append(Tensor(output.name, "FP32", values.shape, values))
        else:
            labels = bundle.outputs[output.name].labels
            tensors.append(classify(output.name, values, count, labels))
    default_binary = _flag(request.parameters, "binary_data_output", "request")
    binary = {
        o.name
        for o in wanted
        if _flag(o.parameters, "binary_data", f"output {o.name!r}", default_binary)
    }
    return tensors, binary


def classify(name: str, values: np.ndarray, count: int, labels: tuple[str, ...]) -> Tensor:
    """Triton's classification extension: the top ``count`` per row as "value:index[:label]"."""
    best = np.argsort(-values, axis=1, kind="stable")[:, :count]
    strings = np.empty(best.shape, dtype=object)
    for r, c in np.ndindex(best.shape):
        index = int(best[r, c])
        label = f":{labels[index]}" if labels else ""
        # %f: the six decimals Triton prints (std::to_string of the value).
        strings[r, c] = f"{float(values[r, index]):f}:{index}{label}".encode()
    return Tensor(name, "BYTES", strings.shape, strings)


def _requested_outputs(bundle: Bundle, request: InferRequest) -> list[RequestedOutput]:
    if not request.outputs:
        return [RequestedOutput(name) for name in bundle.outputs]
    seen = set()
    for output in request.outputs:
        if output.name not in bundle.outputs:
            raise BadRequest(
                f"unknown output {output.name!r}; this model has: {', '.join(bundle.outputs)}"
            )
        if output.name in seen:
            raise BadRequest(f"output {output.name!r} is requested twice")
        seen.add(output.name)
        count = output.parameters.get(CLASSIFICATION)
        if count is not None and (
            not isinstance(count, int) or isinstance(count, bool) or count < 1
        ):
            raise BadRequest(
                f"output {output.name!r}: classification must be a positive integer, got {count!r}"
            )
    return request.outputs


def _flag(parameters: dict[str, Any], key: str, where: str, default: bool = False) -> bool:
    value = parameters.get(key, default)
    if not isinstance(value, bool):
        raise BadRequest(f"{where}: parameter {key} must be true or false, got {value!r}")
    return value


def _samples(
    bundle: Bundle, tensors: list[Tensor], settings: Settings
) -> tuple[list[Instance], list[dict[str, np.ndarray]]]:
    """Per sample: uploads by part (BYTES tensors) and feature rows by input (numeric ones)."""
    sources: dict[str, str] = {}  # model input name -> the tensor feeding it
    batch = None
    for tensor in tensors:
        part = bundle.parts.get(tensor.name) if tensor.datatype == "BYTES" else None
        if part is not None:
            if len(tensor.shape) not in (1, 2) or tensor.shape[1:] not in ((), (1,)):
                raise BadRequest(
                    f"input {tensor.name!r}: a BYTES input holds one upload per sample, shape "
                    f"[N] or [N, 1]; got {list(tensor.shape)}"
                )
            _check_sizes(tensor, settings.max_part_bytes.get(part.modality))
            fed = [spec.name for spec in part.inputs]
        else:
            spec = bundle.inputs.get(tensor.name)
            if spec is None:
                raise BadRequest(_unknown_input(bundle, tensor))
            expected = datatype_of(spec.dtype)
            if tensor.datatype != expected or tensor.shape[1:] != spec.shape:
                raise BadRequest(
                    f"input {tensor.name!r}: got {tensor.datatype} {list(tensor.shape)}; the "
                    f"model takes {expected} {[-1, *spec.shape]} (or BYTES [N] of raw "
                    f"{spec.modality} uploads named {spec.part!r})"
                )
            fed = [spec.name]
        for name in fed:
            if name in sources:
                raise BadRequest(
                    f"model input {name!r} is fed by two tensors ({sources[name]!r} and "
                    f"{tensor.name!r} {tensor.datatype}); send one"
                )
            sources[name] = tensor.name
        n = tensor.shape[0] if tensor.shape else 0
        if batch is not None and n != batch:
            raise BadRequest(f"input {tensor.name!r} has {n} samples but another has {batch}")
        batch = n
    if not batch:
        raise BadRequest("the inputs hold no samples: the first dimension is the batch")
    if batch > settings.max_instances:
        raise PayloadTooLarge(f"{batch} samples is over the limit of {settings.max_instances}")
    instances: list[Instance] = [{} for _ in range(batch)]
    features: list[dict[str, np.ndarray]] = [{} for _ in range(batch)]
    for tensor in tensors:
        for i in range(batch):
            if tensor.datatype == "BYTES" and tensor.name in bundle.parts:
                instances[i][tensor.name] = tensor.data.reshape(batch)[i]
            else:
                features[i][tensor.name] = tensor.data[i]
    return instances, features


def _check_sizes(tensor: Tensor, limit: int | None) -> None:
    if limit is None:
        return
    for i, element in enumerate(tensor.data.flat):
        if len(element) > limit:
            raise PayloadTooLarge(
                f"input {tensor.name!r}, sample {i}: {len(element)} bytes is over the limit of "
                f"{limit} bytes"
            )


def _unknown_input(bundle: Bundle, tensor: Tensor) -> str:
    raw = ", ".join(bundle.parts)
    features = ", ".join(
        f"{spec.name} {datatype_of(spec.dtype)} {[-1, *spec.shape]}"
        for spec in bundle.inputs.values()
    )
    return (
        f"unknown input {tensor.name!r} ({tensor.datatype}); this model takes BYTES uploads "
        f"named {raw}, or feature tensors {features}"
    )
