"""The v2 tensor codec: JSON and binary tensor data, both ways, and every malformed input a 400."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from app.api.v2.codec import (
    Tensor,
    decode_infer_request,
    deserialize_bytes,
    encode_infer_response,
    serialize_bytes,
)
from app.errors import BadRequest


def _binary_request(header: dict, *chunks: bytes) -> tuple[bytes, str]:
    head = json.dumps(header).encode()
    return head + b"".join(chunks), str(len(head))


@pytest.mark.parametrize(
    ("datatype", "data", "shape", "expected"),
    [
        ("FP32", [1.5, -2, 3, 4], [2, 2], np.array([[1.5, -2], [3, 4]], np.float32)),
        ("FP32", [[1.5, -2], [3, 4]], [2, 2], np.array([[1.5, -2], [3, 4]], np.float32)),
        ("FP64", [0.1], [1], np.array([0.1], np.float64)),
        ("FP16", [0.5, 2], [1, 2], np.array([[0.5, 2]], np.float16)),
        ("INT32", [1, -2, 3], [3], np.array([1, -2, 3], np.int32)),
        ("INT64", [[2**40]], [1, 1], np.array([[2**40]], np.int64)),
        ("UINT8", [0, 255], [2], np.array([0, 255], np.uint8)),
        ("BOOL", [True, False], [2], np.array([True, False])),
        ("BYTES", ["seven", "七"], [2], np.array([b"seven", "七".encode()], object)),
        ("BYTES", ["a", "b"], [2, 1], np.array([[b"a"], [b"b"]], object)),
        ("FP32", [], [0, 3], np.zeros((0, 3), np.float32)),
    ],
)
def test_json_inputs_decode(datatype, data, shape, expected):
    body = {"inputs": [{"name": "x", "datatype": datatype, "shape": shape, "data": data}]}
    (tensor,) = decode_infer_request(json.dumps(body).encode(), None).inputs
    assert tensor.datatype == datatype and tensor.shape == tuple(shape)
    assert tensor.data.dtype == expected.dtype and tensor.data.shape == expected.shape
    assert tensor.data.tolist() == expected.tolist()


@pytest.mark.parametrize(
    ("datatype", "array"),
    [
        ("FP32", np.arange(6, dtype=np.float32).reshape(2, 3) / 7),
        ("INT32", np.array([[1, -7, 2**31 - 1]], np.int32)),
        ("FP16", np.array([0.25, -1], np.float16)),
        ("UINT64", np.array([2**64 - 1], np.uint64)),
        ("BYTES", np.array([b"\x89PNG\r\n\x00raw", b"", b"sieben"], object)),
    ],
)
def test_binary_inputs_round_trip(datatype, array):
    raw = (
        serialize_bytes(array)
        if datatype == "BYTES"
        else array.astype("<" + array.dtype.str[1:]).tobytes()
    )
    header = {
        "id": "req-1",
        "inputs": [
            {"name": "a", "datatype": "INT32", "shape": [1], "data": [5]},
            {
                "name": "x",
                "datatype": datatype,
                "shape": list(array.shape),
                "parameters": {"binary_data_size": len(raw)},
            },
        ],
        "outputs": [{"name": "y", "parameters": {"binary_data": True}}],
        "parameters": {"binary_data_output": False},
    }
    request = decode_infer_request(*_binary_request(header, raw))
    assert request.id == "req-1" and request.parameters == {"binary_data_output": False}
    assert request.outputs[0].name == "y" and request.outputs[0].parameters["binary_data"]
    assert request.inputs[0].data.tolist() == [5]
    assert request.inputs[1].data.tolist() == array.tolist()


def test_two_binary_inputs_take_their_bytes_in_order():
    first, second = np.float32([1, 2]).tobytes(), serialize_bytes(np.array([b"xyz"], object))
    header = {
        "inputs": [
            {"name": "f", "datatype": "FP32", "shape": [2], "parameters": {"binary_data_size": 8}},
            {"name": "b", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": 7}},
        ]
    }
    f, b = decode_infer_request(*_binary_request(header, first, second)).inputs
    assert f.data.tolist() == [1.0, 2.0] and b.data.tolist() == [b"xyz"]


@pytest.mark.parametrize(
    ("elements", "wire"),
    [
        ([b"ab", b""], b"\x02\x00\x00\x00ab\x00\x00\x00\x00"),
        (["七"], b"\x03\x00\x00\x00" + "七".encode()),
        ([], b""),
    ],
)
def test_bytes_wire_format(elements, wire):
    array = np.array(elements, dtype=object)
    assert serialize_bytes(array) == wire
    assert deserialize_bytes(wire, len(elements), "x").tolist() == [
        e.encode() if isinstance(e, str) else e for e in elements
    ]


BAD_TENSOR = {"name": "x", "datatype": "FP32", "shape": [2], "data": [1, 2]}


@pytest.mark.parametrize(
    ("body", "header_length", "message"),
    [
        (b"{not json", None, "not valid JSON"),
        (b"[" * 100_000, None, "nested deeper than the limit of 128 levels"),
        (b"\xff\xfe", None, "not valid JSON"),
        (b"[1]", None, "JSON object"),
        (b"{}", None, "'inputs' must be a non-empty list"),
        (json.dumps({"inputs": []}).encode(), None, "non-empty list"),
        (json.dumps({"inputs": [5]}).encode(), None, "JSON object"),
        (json.dumps({"inputs": [{**BAD_TENSOR, "name": ""}]}).encode(), None, "'name'"),
        (json.dumps({"inputs": [{**BAD_TENSOR, "datatype": "FP8"}]}).encode(), None, "FP8"),
        (json.dumps({"inputs": [{**BAD_TENSOR, "shape": [-1]}]}).encode(), None, "'shape'"),
        (json.dumps({"inputs": [{**BAD_TENSOR, "shape": "2"}]}).encode(), None, "'shape'"),
        (json.dumps({"inputs": [{**BAD_TENSOR, "shape": [True]}]}).encode(), None, "'shape'"),
        (json.dumps({"inputs": [{**BAD_TENSOR, "shape": [3]}]}).encode(), None, "holds 3"),
        (json.dumps({"inputs": [{**BAD_TENSOR, "data": "12"}]}).encode(), None, "must be a list"),
        (json.dumps({"inputs": [{**BAD_TENSOR, "data": [1, "2"]}]}).encode(), None, "numbers"),
        (json.dumps({"inputs": [{**BAD_TENSOR, "data": [1, True]}]}).encode(), None, "numbers"),
        (
            json.dumps({"inputs": [{**BAD_TENSOR, "datatype": "INT8", "data": [1, 300]}]}).encode(),
            None,
            "[-128, 127]",
        ),
        (
            json.dumps(
                {"inputs": [{**BAD_TENSOR, "datatype": "INT32", "data": [1, 2.5]}]}
            ).encode(),
            None,
            "integers",
        ),
        (
            json.dumps({"inputs": [{**BAD_TENSOR, "datatype": "BOOL", "data": [1, 0]}]}).encode(),
            None,
            "true or false",
        ),
        (
            json.dumps({"inputs": [{**BAD_TENSOR, "datatype": "BYTES", "data": [1, 2]}]}).encode(),
            None,
            "strings",
        ),
        (
            json.dumps({"inputs": [{k: v for k, v in BAD_TENSOR.items() if k != "data"}]}).encode(),
            None,
            "no 'data'",
        ),
        (json.dumps({"inputs": [{**BAD_TENSOR, "parameters": []}]}).encode(), None, "parameters"),
        (json.dumps({"inputs": [BAD_TENSOR], "outputs": {}}).encode(), None, "'outputs'"),
        (json.dumps({"inputs": [BAD_TENSOR], "outputs": [{"x": 1}]}).encode(), None, "'name'"),
        (json.dumps({"inputs": [BAD_TENSOR]}).encode(), "abc", "byte count"),
        (json.dumps({"inputs": [BAD_TENSOR]}).encode(), "99999", "byte count"),
        (json.dumps({"inputs": [BAD_TENSOR]}).encode(), "-1", "byte count"),
    ],
)
def test_malformed_requests_are_400(body, header_length, message):
    with pytest.raises(BadRequest) as info:
        decode_infer_request(body, header_length)
    assert message in info.value.message and info.value.status == 400


def _binary_input(datatype: str, shape: list[int], size) -> dict:
    return {
        "name": "x",
        "datatype": datatype,
        "shape": shape,
        "parameters": {"binary_data_size": size},
    }


@pytest.mark.parametrize(
    ("tensor", "raw", "message"),
    [
        (_binary_input("FP32", [2], 8), b"\0" * 4, "runs past"),
        (_binary_input("FP32", [2], 4), b"\0" * 4, "take 8"),
        (_binary_input("FP32", [2], 8), b"\0" * 12, "no input claims them"),
        (_binary_input("FP32", [2], -1), b"", "non-negative"),
        (_binary_input("FP32", [2], "8"), b"\0" * 8, "non-negative"),
        ({**_binary_input("FP32", [2], 8), "data": [1, 2]}, b"\0" * 8, "not both"),
        (_binary_input("BYTES", [2], 9), b"\x05\0\0\0hello", "ends before element 1"),
        (_binary_input("BYTES", [3], 9), b"\x05\0\0\0hello", "cannot hold 3"),
        (_binary_input("BYTES", [1], 9), b"\x09\0\0\0hello", "past the data's end"),
        (_binary_input("BYTES", [1], 10), b"\x01\0\0\0x\x01\0\0\0y", "left after"),
        # An absurd element count is refused before anything is allocated.
        (_binary_input("BYTES", [10**12], 4), b"\0" * 4, "cannot hold"),
        (_binary_input("FP32", [10**12], 4), b"\0" * 4, "take"),
    ],
)
def test_malformed_binary_data_is_400(tensor, raw, message):
    with pytest.raises(BadRequest) as info:
        decode_infer_request(*_binary_request({"inputs": [tensor]}, raw))
    assert message in info.value.message


def _tensors() -> list[Tensor]:
    probs = np.array([[0.25, 0.75]], np.float32)
    labels = np.array([[b"0.750000:1:dog"]], object)
    return [Tensor("probs", "FP32", (1, 2), probs), Tensor("label", "BYTES", (1, 1), labels)]


def test_json_response():
    body, header_length = encode_infer_response({"model_name": "m"}, _tensors(), set())
    assert header_length is None
    assert json.loads(body) == {
        "model_name": "m",
        "outputs": [
            {"name": "probs", "datatype": "FP32", "shape": [1, 2], "data": [0.25, 0.75]},
            {"name": "label", "datatype": "BYTES", "shape": [1, 1], "data": ["0.750000:1:dog"]},
        ],
    }


@pytest.mark.parametrize("binary", [{"probs"}, {"label"}, {"probs", "label"}])
def test_binary_response(binary):
    body, header_length = encode_infer_response({"model_name": "m"}, _tensors(), binary)
    header = json.loads(body[:header_length])
    rest = body[header_length:]
    for out in header["outputs"]:
        if out["name"] not in binary:
            assert "data" in out and "parameters" not in out
            continue
        size = out["parameters"]["binary_data_size"]
        chunk, rest = rest[:size], rest[size:]
        assert "data" not in out
        if out["name"] == "probs":
            assert np.frombuffer(chunk, "<f4").tolist() == [0.25, 0.75]
        else:
            assert chunk == struct.pack("<I", 14) + b"0.750000:1:dog"
    assert rest == b""
