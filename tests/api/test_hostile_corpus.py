"""The hostile corpus through the Flask client: every case gets its documented status and code."""

from __future__ import annotations

import base64
import io
import json

import pytest

from tests.hostile import MULTIPART, body_of_size, corpus, multipart, upload
from tests.media import image_bytes


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
