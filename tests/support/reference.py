"""The reference bundle's held-out samples (tests/data/digits), as the manifest lists them."""

from __future__ import annotations

import csv
from collections import defaultdict

from tests.support.server import ROOT

BUNDLE = ROOT / "models" / "digits" / "1"
SAMPLES = ROOT / "tests" / "data" / "digits"


def _manifest() -> dict[str, list[tuple[str, str]]]:
    """modality -> [(digit, file name or text)]."""
    rows = defaultdict(list)
    with open(SAMPLES / "manifest.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rows[row["modality"]].append((row["digit"], row["item"]))
    return dict(rows)


MANIFEST = _manifest()
