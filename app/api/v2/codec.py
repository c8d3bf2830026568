"""Open Inference Protocol tensors to and from the wire: JSON and the binary tensor data extension.

The formats are Triton's (the binary extension) and KServe's v2 REST protocol: a JSON header,
optionally followed by raw tensor bytes whose lengths the header gives per tensor. BYTES elements
travel as 4-byte little-endian lengths, each followed by that many bytes.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.api.body import JsonLimits, load_json
from app.errors import BadRequest
from app.settings import Settings

HEADER_LENGTH = "Inference-Header-Content-Length"
BINARY_DATA_SIZE = "binary_data_size"
# Datatype names of the protocol and their NumPy dtypes; BYTES elements are Python bytes.
DATATYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": np.dtype(object),
}
_LENGTH = struct.Struct("<I")
MAX_RANK = 64  # NumPy's most axes (NPY_MAXDIMS since NumPy 2); max_json_depth allows them nested


def datatype_of(dtype: np.dtype) -> str:
    """The protocol's datatype name of a NumPy dtype (BYTES for object arrays)."""
    for name, known in DATATYPES.items():
        if known == dtype:
            return name
    raise ValueError(f"no Open Inference Protocol datatype for {dtype}")


@dataclass(frozen=True)
class Tensor:
    """One named tensor: ``data`` has ``shape``; BYTES data is an object array of bytes."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    data: np.ndarray
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestedOutput:
    """An output the request names, with its parameters (binary_data, classification)."""

    name: str
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InferRequest:
    """A decoded inference request."""

    id: str | None
    inputs: list[Tensor]
    outputs: list[RequestedOutput]
    parameters: dict[str, Any]


def serialize_bytes(elements: np.ndarray) -> bytes:
    """BYTES elements, row-major, each as a 4-byte little-endian length and its bytes."""
    return b"".join(_LENGTH.pack(len(e)) + e for e in (_as_bytes(x) for x in elements.flat))


def deserialize_bytes(raw: bytes, count: int, where: str) -> np.ndarray:
    """``count`` length-prefixed elements from ``raw``, which they must fill exactly."""
    if 4 * count > len(raw):  # each element takes at least its length: refuse before allocating
        raise BadRequest(f"{where}: {len(raw)} bytes cannot hold {count} BYTES elements")
    out = np.empty(count, dtype=object)
    offset = 0
    for i in range(count):
        if offset + 4 > len(raw):
            raise BadRequest(f"{where}: binary BYTES data ends before element {i} of {count}")
        (size,) = _LENGTH.unpack_from(raw, offset)
        offset += 4
        if offset + size > len(raw):
            raise BadRequest(f"{where}: BYTES element {i} claims {size} bytes past the data's end")
        out[i] = raw[offset : offset + size]
        offset += size
    if offset != len(raw):
        raise BadRequest(f"{where}: {len(raw) - offset} bytes left after {count} BYTES elements")
    return out


def decode_infer_request(
    body: bytes, header_length: str | None, limits: JsonLimits | None = None
) -> InferRequest:
    """An InferRequest from a JSON body, or a JSON header plus binary tensor data.

    ``limits`` bound the header's JSON nesting and size (default: the default settings').
    """
    if header_length is None:
        head, binary = body, b""
    else:
        try:
            size = int(header_length)
        except ValueError:
            size = -1
        if not 0 <= size <= len(body):
            raise BadRequest(
                f"{HEADER_LENGTH} is {header_length!r}; it must be a byte count within the body "
                f"of {len(body)} bytes"
            )
        head, binary = body[:size], body[size:]
    try:
        header = load_json(head, limits or JsonLimits.of(Settings()), "the inference header")
    except ValueError as exc:  # also UnicodeDecodeError; past a limit: JsonLimitError (400)
        raise BadRequest(f"the inference header is not valid JSON: {exc}") from None
    if not isinstance(header, dict):
        raise BadRequest("the inference header must be a JSON object")
    raw_inputs = header.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise BadRequest("'inputs' must be a non-empty list of tensors")
    inputs, offset = [], 0
    for i, entry in enumerate(raw_inputs):
        tensor, offset = _decode_input(entry, f"inputs[{i}]", binary, offset)
        inputs.append(tensor)
    if offset != len(binary):
        raise BadRequest(
            f"{len(binary) - offset} bytes of binary data follow the header but no input "
            "claims them"
        )
    request_id = header.get("id")
    return InferRequest(
        id=None if request_id is None else str(request_id),
        inputs=inputs,
        outputs=_decode_outputs(header.get("outputs")),
        parameters=_parameters(header, "request"),
    )


def _decode_input(entry: Any, where: str, binary: bytes, offset: int) -> tuple[Tensor, int]:
    if not isinstance(entry, dict):
        raise BadRequest(f"{where}: a tensor must be a JSON object")
    name, datatype, shape = entry.get("name"), entry.get("datatype"), entry.get("shape")
    if not isinstance(name, str) or not name:
        raise BadRequest(f"{where}: 'name' must be a non-empty string")
    where = f"input {name!r}"
    if datatype not in DATATYPES:
        raise BadRequest(f"{where}: datatype {datatype!r}; supported: {', '.join(DATATYPES)}")
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise BadRequest(f"{where}: 'shape' must be a list of non-negative integers")
    if len(shape) > MAX_RANK:
        raise BadRequest(f"{where}: 'shape' has {len(shape)} axes; at most {MAX_RANK}")
    parameters = _parameters(entry, where)
    count = math.prod(shape)
    size = parameters.get(BINARY_DATA_SIZE)
    if size is not None:
        if "data" in entry:
            raise BadRequest(f"{where}: give 'data' or binary_data_size, not both")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise BadRequest(f"{where}: binary_data_size must be a non-negative integer")
        if offset + size > len(binary):
            raise BadRequest(
                f"{where}: binary_data_size {size} runs past the {len(binary)} bytes of binary "
                "data after the header"
            )
        data = _from_binary(binary[offset : offset + size], datatype, count, where)
        offset += size
    elif "data" in entry:
        data = _from_json(entry["data"], datatype, count, where)
    else:
        raise BadRequest(f"{where}: no 'data' and no binary_data_size")
    return Tensor(name, datatype, tuple(shape), data.reshape(shape), parameters), offset


def _from_binary(raw: bytes, datatype: str, count: int, where: str) -> np.ndarray:
    if datatype == "BYTES":
        return deserialize_bytes(raw, count, where)
    dtype = DATATYPES[datatype]
    if len(raw) != count * dtype.itemsize:
        raise BadRequest(
            f"{where}: {len(raw)} bytes of binary data, but {count} {datatype} elements take "
            f"{count * dtype.itemsize}"
        )
    return np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype)


def _from_json(data: Any, datatype: str, count: int, where: str) -> np.ndarray:
    flat = _flatten(data, where)
    if len(flat) != count:
        raise BadRequest(f"{where}: {len(flat)} data elements, but the shape holds {count}")
    if datatype == "BYTES":
        if not all(isinstance(v, str) for v in flat):
            raise BadRequest(f"{where}: BYTES data in JSON must be strings")
        out = np.empty(count, dtype=object)
        out[:] = [v.encode("utf-8") for v in flat]
        return out
    dtype = DATATYPES[datatype]
    if datatype == "BOOL":
        if not all(isinstance(v, bool) for v in flat):
            raise BadRequest(f"{where}: BOOL data must be true or false")
        return np.asarray(flat, dtype=dtype)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in flat):
        raise BadRequest(f"{where}: {datatype} data must be numbers")
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if not all(isinstance(v, int) and info.min <= v <= info.max for v in flat):
            raise BadRequest(
                f"{where}: {datatype} data must be integers in [{info.min}, {info.max}]"
            )
        return np.asarray(flat, dtype=dtype)
    return np.asarray(flat, dtype=np.float64).astype(dtype)


def _flatten(data: Any, where: str) -> list[Any]:
    """Row-major elements of a flat or nested JSON list (both are allowed by the protocol)."""
    if not isinstance(data, list):
        raise BadRequest(f"{where}: 'data' must be a list")
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat


def _decode_outputs(raw: Any) -> list[RequestedOutput]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise BadRequest("'outputs' must be a list of {\"name\": ...} objects")
    outputs = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise BadRequest(f"outputs[{i}]: expected an object with a string 'name'")
        outputs.append(
            RequestedOutput(entry["name"], _parameters(entry, f"output {entry['name']!r}"))
        )
    return outputs


def _parameters(entry: dict[str, Any], where: str) -> dict[str, Any]:
    parameters = entry.get("parameters", {})
    if not isinstance(parameters, dict):
        raise BadRequest(f"{where}: 'parameters' must be a JSON object")
    return parameters


def encode_infer_response(
    head: dict[str, Any], outputs: list[Tensor], binary: set[str]
) -> tuple[bytes, int | None]:
    """The response body and, when any output in ``binary`` goes as raw bytes, the header length."""
    tensors, chunks = [], []
    for tensor in outputs:
        entry: dict[str, Any] = {
            "name": tensor.name,
            "datatype": tensor.datatype,
            "shape": list(tensor.shape),
        }
        if tensor.name in binary:
            raw = _to_binary(tensor)
            entry["parameters"] = {**tensor.parameters, BINARY_DATA_SIZE: len(raw)}
            chunks.append(raw)
        else:
            if tensor.parameters:
                entry["parameters"] = tensor.parameters
            entry["data"] = _to_json(tensor)
        tensors.append(entry)
    header = json.dumps({**head, "outputs": tensors}, separators=(",", ":")).encode("utf-8")
    if not chunks:
        return header, None
    return header + b"".join(chunks), len(header)


def _to_binary(tensor: Tensor) -> bytes:
    if tensor.datatype == "BYTES":
        return serialize_bytes(tensor.data)
    little_endian = DATATYPES[tensor.datatype].newbyteorder("<")
    return np.ascontiguousarray(tensor.data, dtype=little_endian).tobytes()


def _to_json(tensor: Tensor) -> list[Any]:
    if tensor.datatype == "BYTES":
        return [_as_bytes(v).decode("utf-8", "replace") for v in tensor.data.flat]
    return tensor.data.reshape(-1).tolist()


def _as_bytes(value: Any) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)
