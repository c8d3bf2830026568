"""The hostile corpus through the Flask client: every case gets its documented status and code."""

from __future__ import annotations

import base64
import io
import json

import pytest

from app.api.body import JsonLimits
from tests.support.hostile import (
    MULTIPART,
    V2_INFER,
    body_of_size,
    corpus,
    json_bombs,
    multipart,
    nested_json_requests,
    upload,
)
from tests.support.media import image_bytes


def assert_error(resp, status: int, code: str, field: str | None = None) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)
    error = resp.json["error"]
    assert error["code"] == code, error
    assert error.get("field") == field, error
    assert resp.json["request_id"] == resp.headers["X-Request-ID"]
    return error


@pytest.mark.parametrize("case", corpus(), ids=lambda case: case.name)
def test_corpus_case_gets_its_status_code_and_field(client, case):
    resp = client.post("/predict", data=upload(case), content_type=MULTIPART)
    error = assert_error(resp, case.status, case.code, case.part)
    assert error["message"].startswith(f"{case.part}: ")


@pytest.mark.parametrize("case", corpus(), ids=lambda case: case.name)
def test_corpus_case_as_json_b64_gets_the_same_answer(client, case):
    value = base64.b64encode(case.data).decode()
    resp = client.post("/predict", json={case.part: {"b64": value}})
    assert_error(resp, case.status, case.code, case.part)


def test_text_with_nul_names_the_field_and_position(client):
    body = multipart(("text", b"ab\x00c", None))
    resp = client.post("/predict", data=body, content_type=MULTIPART)
    error = assert_error(resp, 422, "unprocessable_input", "text")
    assert "U+0000 at position 2" in error["message"]


def test_tab_newline_and_carriage_return_are_text(client):
    resp = client.post("/predict", json={"text": "the\tcat\r\nthe dog"})
    assert resp.status_code == 200, resp.json


def test_lone_surrogate_in_json_is_422(client):
    body = b'{"text": "the \\ud800 cat"}'  # valid JSON, not encodable text
    resp = client.post("/predict", data=body, content_type="application/json")
    error = assert_error(resp, 422, "unprocessable_input", "text")
    assert "U+D800 at position 4" in error["message"]


@pytest.mark.parametrize("part", ["image", "audio"])
def test_media_sent_as_a_json_string_is_400(client, part):
    # JSON carries files as {"b64": ...}; a bare string is a malformed body, not a format.
    resp = client.post("/predict", json={part: "not a file"})
    assert_error(resp, 400, "bad_request", part)


def test_media_sent_as_a_plain_form_field_is_decoded_by_its_bytes(client):
    # curl -F 'image=<file.png' sends the file without a filename.
    resp = client.post(
        "/predict", data=multipart(("image", image_bytes("PNG"), None)), content_type=MULTIPART
    )
    assert resp.status_code == 200, resp.json


def test_thousands_of_tiny_parts_are_413_naming_the_limit(client, settings):
    body = multipart(*[("top_k", b"1", None)] * 5000)
    resp = client.post("/predict", data=body, content_type=MULTIPART)
    error = assert_error(resp, 413, "payload_too_large")
    assert f"limit of {settings.max_parts} parts" in error["message"]


def test_parts_at_the_limit_are_parsed(client, settings):
    # Many parts at the limit: the answer is about the parts (duplicates), not their number.
    body = multipart(*[("top_k", b"1", None)] * settings.max_parts)
    resp = client.post("/predict", data=body, content_type=MULTIPART)
    assert_error(resp, 400, "bad_request", "top_k")


def test_missing_boundary_is_400(client):
    body = multipart(("text", b"the cat", None))
    resp = client.post("/predict", data=body, content_type="multipart/form-data")
    assert_error(resp, 400, "bad_request")


def test_body_at_the_limit_passes_and_one_byte_over_is_413(client, settings):
    limit = settings.max_body_bytes
    resp = client.post("/predict", data=body_of_size(limit), content_type=MULTIPART)
    assert resp.status_code == 200, resp.json
    resp = client.post("/predict", data=body_of_size(limit + 1), content_type=MULTIPART)
    error = assert_error(resp, 413, "payload_too_large")
    assert f"limit of {limit} bytes" in error["message"]


def test_text_part_at_the_limit_passes_and_one_byte_over_is_413(client, settings):
    limit = settings.max_part_bytes["text"]
    text = (b"cat " * limit)[:limit]
    resp = client.post("/predict", data=multipart(("text", text, None)), content_type=MULTIPART)
    assert resp.status_code == 200, resp.json
    resp = client.post(
        "/predict", data=multipart(("text", text + b"s", None)), content_type=MULTIPART
    )
    error = assert_error(resp, 413, "payload_too_large", "text")
    assert f"limit of {limit} bytes" in error["message"]


def test_form_field_over_its_limit_is_413_naming_it(client, settings):
    big = b"1" + b" " * settings.max_form_field_bytes
    resp = client.post("/predict", data=multipart(("top_k", big, None)), content_type=MULTIPART)
    error = assert_error(resp, 413, "payload_too_large", "top_k")
    assert f"limit of {settings.max_form_field_bytes} bytes" in error["message"]


def test_lying_content_length_is_400(client):
    body = multipart(("text", b"the cat", None))
    resp = client.post(
        "/predict",
        input_stream=io.BytesIO(body),
        content_type=MULTIPART,
        environ_overrides={"CONTENT_LENGTH": str(len(body) + 1000)},
    )
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert json.loads(resp.get_data())["error"]["code"] == "bad_request"


@pytest.mark.parametrize("case", nested_json_requests(), ids=lambda case: case.name)
def test_json_nested_past_the_limit_is_400_naming_it(client, settings, case):
    resp = client.post(case.path, data=case.body, headers=case.headers)
    words = f"nested deeper than the limit of {settings.max_json_depth} levels"
    if case.v2:
        assert resp.status_code == 400 and list(resp.json) == ["error"], resp.json
        assert words in resp.json["error"]
    else:
        assert words in assert_error(resp, 400, "bad_request")["message"]


def _v1(client, body: bytes):
    return client.post("/predict", data=body, content_type="application/json")


def _v2_text(parameter: bytes) -> bytes:
    """A valid v2 request for the tiny model whose input carries ``parameter`` 4 levels down."""
    tensor = b'{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["cat"], '
    return b'{"inputs": [' + tensor + b'"parameters": {"x": ' + parameter + b"}}]}"


@pytest.mark.parametrize("kind", ["arrays", "objects", "mixed"])
def test_json_at_the_depth_limit_gets_the_usual_answers(client, settings, kind):
    depth = settings.max_json_depth
    # v1: the body is one level, an instance two more.
    error = assert_error(
        _v1(client, b'{"x": ' + json_bombs(depth - 1)[kind] + b"}"), 400, "bad_request", "x"
    )
    assert error["message"].startswith("x: expected a string")
    body = b'{"instances": [{"text": "cat"}, {"x": ' + json_bombs(depth - 3)[kind] + b"}]}"
    assert_error(_v1(client, body), 400, "bad_request", "x")
    error = assert_error(
        _v1(client, b'{"x": ' + json_bombs(depth)[kind] + b"}"), 400, "bad_request"
    )
    assert f"limit of {depth} levels" in error["message"]
    # v2: a parameter is 4 levels down; the answer is the model's.
    resp = client.post(V2_INFER, data=_v2_text(json_bombs(depth - 4)[kind]))
    assert resp.status_code == 200, resp.json
    resp = client.post(V2_INFER, data=_v2_text(json_bombs(depth - 3)[kind]))
    assert resp.status_code == 400 and f"limit of {depth} levels" in resp.json["error"]


def test_brackets_inside_json_strings_are_not_counted(client):
    resp = _v1(client, json.dumps({"text": "[[[{{{ cat }}}]]] " * 40}).encode())
    assert resp.status_code == 200, resp.json


def test_json_with_more_arrays_and_objects_than_the_limit_is_400_naming_it(client, settings):
    limit = JsonLimits.of(settings).max_containers
    assert limit == settings.max_body_bytes // 16  # derived: max_json_containers is 0

    def many(n: int) -> bytes:
        return b"[" + b",".join([b"[]"] * n) + b"]"

    # v1: the body and the list are two.
    assert_error(_v1(client, b'{"x": ' + many(limit - 2) + b"}"), 400, "bad_request", "x")
    error = assert_error(_v1(client, b'{"x": ' + many(limit - 1) + b"}"), 400, "bad_request")
    assert f"more than the limit of {limit} arrays and objects" in error["message"]
    # v2: the request, its inputs, the tensor, its shape, data and parameters are six.
    resp = client.post(V2_INFER, data=_v2_text(many(limit - 7)))
    assert resp.status_code == 200, resp.json
    resp = client.post(V2_INFER, data=_v2_text(many(limit - 6)))
    assert resp.status_code == 400, resp.json
    assert f"more than the limit of {limit} arrays and objects" in resp.json["error"]
