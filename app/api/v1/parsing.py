"""Predict requests (multipart, urlencoded or JSON) parsed into instances: {part: bytes or text}."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Request

from app.api.body import JsonLimits, load_json, read_body
from app.api.v1.multipart import parse_multipart
from app.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from app.settings import Settings

if TYPE_CHECKING:  # the predictor pulls in the decoders, which the health routes must not wait on
    from app.model.predictor import Instance

TOP_K = "top_k"
URLENCODED = "application/x-www-form-urlencoded"
ACCEPTED_TYPES = ("multipart/form-data", "application/json", URLENCODED)
FILE_MODALITIES = ("image", "audio")


@dataclass(frozen=True)
class PredictRequest:
    """What a predict call asks for."""

    instances: list[Instance]
    top_k: int
    batched: bool  # sent as {"instances": [...]}: answer with "predictions"


def parse_predict_request(
    request: Request, settings: Settings, parts: Mapping[str, str]
) -> PredictRequest:
    """Instances and top_k from a multipart, urlencoded or JSON body; raises 400/413 errors.

    ``parts`` maps the model's part names to their modality: image and audio parts are files.
    """
    top_k_raw: Any = request.args.get(TOP_K)
    mimetype = request.mimetype
    files = {name for name, modality in parts.items() if modality in FILE_MODALITIES}
    if mimetype == "multipart/form-data":
        instance, form_top_k = _parse_multipart(request, settings, files)
        instances, batched = [instance], False
    elif mimetype == "application/json" or mimetype.endswith("+json"):
        instances, form_top_k, batched = _parse_json(request, settings, files)
    elif mimetype == URLENCODED:
        instance, form_top_k = _parse_urlencoded(request, files)
        instances, batched = [instance], False
    else:
        raise UnsupportedMediaType(
            f"content type {mimetype or 'missing'}; send one of {', '.join(ACCEPTED_TYPES)}",
            headers={"Accept-Post": ", ".join(ACCEPTED_TYPES)},  # RFC 9110 15.5.16
        )
    for instance in instances:
        _check_sizes(instance, settings, parts)
    top_k_raw = form_top_k if top_k_raw is None else top_k_raw
    return PredictRequest(instances, _parse_top_k(top_k_raw, settings), batched)


def _parse_multipart(request: Request, settings: Settings, files: set[str]) -> tuple[Instance, Any]:
    parts = parse_multipart(
        read_body(request),
        request.mimetype_params.get("boundary", ""),
        max_parts=settings.max_parts,
        max_field_bytes=settings.max_form_field_bytes,
    )
    names = [name for name, _, _ in parts]
    instance: Instance = {}
    top_k = None
    for name, value, is_file in parts:
        if names.count(name) > 1:
            raise BadRequest(f"{name}: sent {names.count(name)} times; send it once", field=name)
        if name == TOP_K:
            top_k = value.decode("utf-8", "replace")
        elif is_file or name in files:
            # An image or audio sent as a plain field (curl -F image=abc) is still bytes to sniff.
            instance[name] = value
        else:
            instance[name] = _field_text(value)
    return instance, top_k


def _parse_urlencoded(request: Request, files: set[str]) -> tuple[Instance, Any]:
    """A text-only form (curl -d text=..., requests' data=): files need multipart."""
    form = request.form
    instance: Instance = {}
    for name in form:
        values = form.getlist(name)
        if len(values) > 1:
            raise BadRequest(f"{name}: sent {len(values)} times; send it once", field=name)
        if name in files:
            raise BadRequest(
                f"{name}: files cannot travel in a urlencoded body; send multipart/form-data "
                f'(curl -F {name}=@FILE) or JSON with {{"{name}": {{"b64": ...}}}}',
                field=name,
            )
        if name != TOP_K:
            instance[name] = values[0]
    return instance, form.get(TOP_K)


def _field_text(value: bytes) -> str | bytes:
    """A plain form field as text; non-UTF-8 bytes go on for the preprocessor to refuse."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value


def _parse_json(
    request: Request, settings: Settings, files: set[str]
) -> tuple[list[Instance], Any, bool]:
    try:
        body = load_json(read_body(request), JsonLimits.of(settings))
    except ValueError:  # also UnicodeDecodeError; past a JSON limit: JsonLimitError (400)
        body = None
    if not isinstance(body, dict):
        raise BadRequest("body is not a JSON object")
    top_k = body.pop(TOP_K, None)
    if "instances" not in body:
        return [_json_instance(body, "", files)], top_k, False
    if set(body) != {"instances"}:
        raise BadRequest(
            f"with 'instances', only 'top_k' may stand beside it; got "
            f"{sorted(set(body) - {'instances'})}"
        )
    items = body["instances"]
    if not isinstance(items, list) or not items:
        raise BadRequest("'instances' must be a non-empty list of objects", field="instances")
    if len(items) > settings.max_instances:
        raise PayloadTooLarge(
            f"instances: {len(items)} is over the limit of {settings.max_instances}",
            field="instances",
        )
    instances = [_json_instance(item, f"instances[{i}].", files) for i, item in enumerate(items)]
    return instances, top_k, True


def _json_instance(item: Any, where: str, files: set[str]) -> Instance:
    if not isinstance(item, dict):
        raise BadRequest(f"{where or 'body'}: expected an object", field=where.rstrip(".") or None)
    instance: Instance = {}
    for name, value in item.items():
        if isinstance(value, str) and name not in files:
            instance[name] = value
        elif isinstance(value, dict) and set(value) == {"b64"} and isinstance(value["b64"], str):
            try:
                instance[name] = base64.b64decode(value["b64"], validate=True)
            except (binascii.Error, ValueError):
                raise BadRequest(f"{where}{name}: 'b64' is not valid base64", field=name) from None
        else:
            raise BadRequest(f'{where}{name}: expected a string or {{"b64": "..."}}', field=name)
    return instance


def _check_sizes(instance: Instance, settings: Settings, parts: Mapping[str, str]) -> None:
    for name, value in instance.items():
        limit = settings.max_part_bytes.get(parts.get(name, name))
        # surrogatepass: JSON may carry lone surrogates; the text preprocessor refuses them (422).
        size = len(value.encode("utf-8", "surrogatepass")) if isinstance(value, str) else len(value)
        if limit is not None and size > limit:
            raise PayloadTooLarge(
                f"{name}: {size} bytes is over the limit of {limit} bytes", field=name
            )


def _parse_top_k(raw: Any, settings: Settings) -> int:
    if raw is None:
        return settings.default_top_k
    try:
        value = raw if isinstance(raw, int) and not isinstance(raw, bool) else int(str(raw).strip())
    except ValueError:
        value = 0
    if value < 1:
        raise BadRequest(f"top_k must be a positive integer, got {raw!r}", field=TOP_K)
    return value
