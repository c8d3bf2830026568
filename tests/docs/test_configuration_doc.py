"""docs/configuration.md, config/service.yaml and ``Settings`` name the same settings alike."""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path

import pytest
import yaml

from app.settings import BatchingSettings, Settings, load_settings
from tests.docs.configuration_doc import (
    END,
    PAGE,
    ROOT,
    generated_part,
    render,
    rows,
)

SERVICE_YAML = ROOT / "config" / "service.yaml"
ROW = re.compile(r"^\| `([\w.]+)` \| (`MMS_\w+`|YAML only) \| `(.*?)` \| (.+) \|$")


def page() -> str:
    return PAGE.read_text(encoding="utf-8")


def documented() -> dict[str, tuple[str | None, str]]:
    """YAML key -> (environment variable or None, default as written) from the page's table."""
    found = {}
    for line in generated_part(page()).splitlines():
        if match := ROW.match(line):
            key, env, default, _ = match.groups()
            found[key] = (env.strip("`") if env.startswith("`") else None, default)
    return found


def plain(value: typing.Any) -> typing.Any:
    """Tuples as lists, so a default compares with what YAML reads."""
    return list(value) if isinstance(value, tuple) else value


def test_the_table_is_what_the_generator_makes_of_settings():
    assert generated_part(page()) == render(), (
        "docs/configuration.md's settings table differs from app/settings.py: "
        "run .venv/bin/python -m tests.docs.configuration_doc"
    )


def test_every_field_is_documented_once_and_nothing_else():
    keys = [f"batching.{f.name}" for f in dataclasses.fields(BatchingSettings)]
    keys += [f.name for f in dataclasses.fields(Settings) if f.name != "batching"]
    assert sorted(documented()) == sorted(keys)
    assert page().count(END) == 1


@pytest.mark.parametrize("row", rows(), ids=lambda row: row.key)
def test_each_default_is_the_fields_default(row):
    env, default = documented()[row.key]
    written = yaml.safe_load(default.replace("&lt;", "<").replace("&gt;", ">"))
    assert written == plain(row.default)


def sample(hint: typing.Any, default: typing.Any) -> tuple[str, typing.Any]:
    """An environment string unlike ``default`` for a field of type ``hint``, and its value."""
    origin = typing.get_origin(hint)
    if hint is bool:
        return ("false", False) if default else ("true", True)
    if hint is int:
        return str(default + 3), default + 3
    if hint is float:
        return str(default + 0.5), default + 0.5
    if hint is str:
        return "changed-by-env", "changed-by-env"
    if origin is tuple:
        return "a, b", ("a", "b")
    if origin is dict:
        return "probe=3", {**default, "probe": 3}
    raise AssertionError(f"no sample for {hint}")


@pytest.mark.parametrize("row", [r for r in rows() if r.env], ids=lambda row: row.key)
def test_each_documented_variable_sets_its_setting(row, tmp_path: Path):
    env, _ = documented()[row.key]
    owner, name = (
        (BatchingSettings, row.key.split(".", 1)[1])
        if row.key.startswith("batching.")
        else (Settings, row.key)
    )
    raw, value = sample(typing.get_type_hints(owner)[name], row.default)
    settings = load_settings(tmp_path / "none.yaml", environ={env: raw})
    holder = settings.batching if owner is BatchingSettings else settings
    assert getattr(holder, name) == value, f"{env}={raw} did not set {row.key}"


def test_yaml_only_settings_have_no_variable(tmp_path: Path):
    for row in rows():
        if row.env is None:
            with pytest.raises(ValueError):
                load_settings(tmp_path / "none.yaml", environ={f"MMS_{row.key.upper()}": "x=1"})


def test_service_yaml_sets_every_field_to_its_default_and_nothing_else():
    data = yaml.safe_load(SERVICE_YAML.read_text(encoding="utf-8"))
    assert sorted(data) == sorted(f.name for f in dataclasses.fields(Settings))
    assert sorted(data["batching"]) == sorted(f.name for f in dataclasses.fields(BatchingSettings))
    for row in rows():
        if row.key.startswith("batching."):
            value = data["batching"][row.key.split(".", 1)[1]]
        else:
            value = data[row.key]
        assert plain(value) == plain(row.default), f"config/service.yaml {row.key}: {value!r}"


def test_every_mms_variable_the_code_reads_is_documented():
    sources = [ROOT / "config" / "gunicorn.conf.py", ROOT / "Dockerfile"]
    sources += sorted((ROOT / "app").rglob("*.py"))
    names = set()
    for path in sources:
        names |= set(re.findall(r"\bMMS_[A-Z][A-Z0-9_]*\b", path.read_text(encoding="utf-8")))
    text = page()
    assert names, "no MMS_ variable found in the code"
    assert sorted(n for n in names if f"`{n}`" not in text) == []
