"""JSON depth and container limits: exact on any document, only 400s or ValueError on any bytes
(never a RecursionError), room for the largest legitimate tensors, and no cost on the hot path."""

from __future__ import annotations

import base64
import json
import timeit
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.api.body import JsonLimitError, JsonLimits, check_json_limits, load_json
from app.api.v2.codec import MAX_RANK, decode_infer_request
from app.errors import BadRequest
from app.settings import Settings, load_settings
from tests.support.hostile import json_bombs

SMALL = JsonLimits(max_depth=6, max_containers=24)
DEFAULT = JsonLimits.of(Settings())
# Strings full of what the scan must skip: brackets, quotes, backslashes, a UTF-16 code unit
# holding '[' and '"' bytes (U+225B), and a character outside the BMP.
TRICKY = st.text(alphabet='[]{}"\\/ab\n\u225b\U0001f600', max_size=12)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TRICKY
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TRICKY, inner, max_size=4),
    max_leaves=60,
)
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-be", "utf-32-le"]


def depth_and_containers(value: Any) -> tuple[int, int]:
    """How deep ``value``'s lists and dicts nest, and how many there are."""
    if isinstance(value, list):
        children = value
    elif isinstance(value, dict):
        children = list(value.values())
    else:
        return 0, 0
    pairs = [depth_and_containers(child) for child in children]
    return 1 + max((d for d, _ in pairs), default=0), 1 + sum(c for _, c in pairs)


@given(DOCUMENTS, st.booleans(), st.sampled_from(ENCODINGS))
def test_limits_are_exact_on_any_document(value, ascii_only, encoding):
    raw = json.dumps(value, ensure_ascii=ascii_only).encode(encoding)
    depth, containers = depth_and_containers(value)
    too_deep, too_many = depth > SMALL.max_depth, containers > SMALL.max_containers
    try:
        assert load_json(raw, SMALL) == value
    except JsonLimitError as exc:
        assert exc.status == 400
        if "nested deeper" in exc.message:
            assert too_deep, (depth, exc.message)
        else:
            assert too_many and "arrays and objects" in exc.message, (containers, exc.message)
    else:
        assert not too_deep and not too_many, (depth, containers)


def _mangled(raw: bytes, data) -> bytes:
    body = bytearray(raw)
    for _ in range(data.draw(st.integers(0, 6))):
        where = data.draw(st.integers(0, max(len(body) - 1, 0)))
        body[where : where + 1] = data.draw(st.sampled_from([b"", b"[", b"]", b"{", b'"', b"\\"]))
    return bytes(body)


@given(st.sampled_from(sorted(json_bombs(1))), st.integers(100, 3000), st.data())
def test_mangled_bombs_never_recurse(kind, depth, data):
    raw = _mangled(json_bombs(depth)[kind], data)
    try:
        load_json(raw, DEFAULT)
    except (JsonLimitError, ValueError):  # RecursionError would fail the test
        pass


@given(st.binary(max_size=600) | st.text(alphabet='[]{}",:1\\ a', max_size=3000).map(str.encode))
def test_any_bytes_are_json_a_limit_or_a_value_error(raw):
    try:
        load_json(raw, DEFAULT)
    except (JsonLimitError, ValueError):
        pass


@pytest.mark.parametrize("kind", ["arrays", "objects", "mixed"])
def test_the_depth_limit_is_inclusive(kind):
    depth = DEFAULT.max_depth
    load_json(json_bombs(depth)[kind], DEFAULT)
    with pytest.raises(JsonLimitError, match=f"deeper than the limit of {depth} levels"):
        load_json(json_bombs(depth + 1)[kind], DEFAULT)


@pytest.mark.parametrize("kind", sorted(json_bombs(1)))
def test_100000_deep_is_refused_quickly(kind):
    raw = json_bombs(100_000)[kind]
    started = timeit.default_timer()
    with pytest.raises(JsonLimitError, match="nested deeper"):
        load_json(raw, DEFAULT, "the inference header")
    assert timeit.default_timer() - started < 0.5


def test_more_closing_brackets_than_opening_ones_is_not_json():
    with pytest.raises(ValueError, match="closing"):
        load_json(b"[[]," * 200 + b"1" + b"]" * 201, DEFAULT)  # deep, but no run of 129 '['s


def test_settings_set_the_limits():
    assert (DEFAULT.max_depth, DEFAULT.max_containers) == (128, 50 * 1024 * 1024 // 16)
    settings = load_settings(
        environ={"MMS_MAX_JSON_DEPTH": "16", "MMS_MAX_BODY_BYTES": "1600"},
    )
    assert JsonLimits.of(settings) == JsonLimits(16, 100)
    settings = load_settings(environ={"MMS_MAX_JSON_CONTAINERS": "7"})
    assert JsonLimits.of(settings).max_containers == 7


def _nested_images(batch: int) -> bytes:
    """A v2 request of ``batch`` 224 x 224 RGB FP32 images, data nested by shape."""
    pixel = b"[0.5,0.5,0.5]"
    row = b"[" + b",".join([pixel] * 224) + b"]"
    image = b"[" + b",".join([row] * 224) + b"]"
    tensor = b'{"name": "image", "datatype": "FP32", "shape": [%d, 224, 224, 3], "data": [' % batch
    return b'{"inputs": [' + tensor + b",".join([image] * batch) + b"]}]}"


def test_default_limits_hold_the_largest_image_batch_a_default_body_carries():
    settings = Settings()
    body = _nested_images(settings.max_instances)  # 3.2 million lists
    assert len(body) <= settings.max_body_bytes
    check_json_limits(body, DEFAULT)
    (tensor,) = decode_infer_request(_nested_images(2), None).inputs
    assert tensor.data.shape == (2, 224, 224, 3) and tensor.data.dtype == np.float32


def test_a_tensor_of_the_most_axes_decodes_nested_and_one_more_axis_is_400():
    def request(rank: int) -> bytes:
        tensor = {"name": "x", "datatype": "FP32", "shape": [1] * rank, "data": 0.5}
        for _ in range(rank):
            tensor["data"] = [tensor["data"]]
        return json.dumps({"inputs": [tensor]}).encode()

    (tensor,) = decode_infer_request(request(MAX_RANK), None).inputs
    assert tensor.data.shape == (1,) * MAX_RANK
    with pytest.raises(BadRequest, match=f"{MAX_RANK + 1} axes; at most {MAX_RANK}"):
        decode_infer_request(request(MAX_RANK + 1), None)


def test_the_hot_path_costs_a_few_percent_of_parsing():
    # A 730 KB body, as the bench's image requests are: the check is two memchr passes.
    image = base64.b64encode(np.random.default_rng(0).bytes(547_000)).decode()
    body = json.dumps({"image": {"b64": image}, "text": "the [cat] sat"}).encode()
    check = min(timeit.repeat(lambda: check_json_limits(body, DEFAULT), number=50, repeat=5))
    parse = min(timeit.repeat(lambda: json.loads(body), number=50, repeat=5))
    assert check < 0.25 * parse, (check, parse)
