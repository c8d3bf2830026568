"""docs/bundles.md names every key a bundle.yaml may hold, as the loader knows them."""

from __future__ import annotations

import re

import pytest

from app.model import bundle, outputs
from app.preprocessing import audio, hf_text, image, text, waveform
from tests.docs.configuration_doc import ROOT

PAGE = ROOT / "docs" / "bundles.md"
KEYS = {
    "input": bundle.INPUT_KEYS,
    "image": image.KNOWN_PARAMS,
    "audio": audio.KNOWN_PARAMS | waveform.KNOWN_PARAMS,
    "text": text.KNOWN_PARAMS | hf_text.KNOWN_PARAMS | {"feed"},
    "output": set().union(*outputs.OUTPUT_KEYS.values()) | set(outputs.OUTPUT_KINDS),
}


def table_keys(first_cell: bool) -> set[str]:
    """Every `name` in the first cell of a table row (or anywhere in one: ``first_cell=False``)."""
    page = PAGE.read_text(encoding="utf-8")
    pattern = r"^\| ([^|]+) \|" if first_cell else r"^(\|.*\|)$"
    cells = re.findall(pattern, page, re.MULTILINE)
    return {name for cell in cells for name in re.findall(r"`([a-z_]+)`", cell)}


@pytest.mark.parametrize("where", sorted(KEYS))
def test_every_key_the_loader_accepts_is_in_a_table(where):
    # Parameters lead their rows; an output's keys and kinds share the outputs table's rows.
    missing = set(KEYS[where]) - table_keys(first_cell=where != "output")
    assert not missing, f"docs/bundles.md lacks {where} keys {sorted(missing)}"
