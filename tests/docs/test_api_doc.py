"""docs/api.md against the app: the same routes, and the error codes the service answers with."""

from __future__ import annotations

import re

from app import errors
from app.api.errors import HTTP_CODES
from tests.docs.configuration_doc import ROOT

PAGE = ROOT / "docs" / "api.md"
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
# A route table's row: | `GET /v1/models/{name}` | answer |
ROUTE_ROW = re.compile(r"^\| `([A-Z]+) (/[^`\s]*)` \|", re.MULTILINE)
# The error codes table's row: | `queue_full` | 503 | when |
CODE_ROW = re.compile(r"^\| `([a-z_]+)` \| (\d{3}) \|", re.MULTILINE)


def page() -> str:
    return PAGE.read_text(encoding="utf-8")


def documented_routes() -> set[tuple[str, str]]:
    return set(ROUTE_ROW.findall(page()))


def app_routes(app) -> set[tuple[str, str]]:
    """(method, path) of every rule, path parameters written {name} as the page writes them."""
    found = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        found |= {(method, path) for method in rule.methods & METHODS}
    return found


def service_error_codes() -> dict[str, int]:
    """Every code a ServiceError (or a routing error) answers with, and its status."""
    codes: dict[str, int] = {}
    pending = [errors.ServiceError]
    while pending:
        cls = pending.pop()
        codes[cls.code] = cls.status
        pending += cls.__subclasses__()
    for status, code in HTTP_CODES.items():
        codes.setdefault(code, status)
    return codes


def test_every_route_of_the_app_is_documented(app):
    missing = app_routes(app) - documented_routes()
    assert not missing, f"routes missing from docs/api.md's tables: {sorted(missing)}"


def test_every_documented_route_exists(app):
    extra = documented_routes() - app_routes(app)
    assert not extra, f"docs/api.md documents routes the app lacks: {sorted(extra)}"


def test_the_error_codes_table_is_the_services_codes_with_their_statuses():
    table = {code: int(status) for code, status in CODE_ROW.findall(page())}
    assert table == service_error_codes()


def test_routing_errors_answer_the_statuses_the_page_gives(client):
    table = {code: int(status) for code, status in CODE_ROW.findall(page())}
    assert client.get("/no/such/route").status_code == table["not_found"]
    wrong_method = client.get("/predict")
    assert wrong_method.status_code == table["method_not_allowed"]
    assert wrong_method.get_json()["error"]["code"] == "method_not_allowed"
