"""The README and docs/ pages: links that resolve, no issue numbers, a README that stays short."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.docs.configuration_doc import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
README_MAX_LINES = 200


def ids(path: Path) -> str:
    return str(path.relative_to(ROOT))


def prose(path: Path) -> str:
    """The page without its fenced code blocks."""
    return FENCE.sub("", path.read_text(encoding="utf-8"))


def anchors(path: Path) -> set[str]:
    """GitHub's ids for the headings of a Markdown page."""
    found = set()
    for heading in re.findall(r"^#+ (.+)$", prose(path), re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


@pytest.mark.parametrize("page", PAGES, ids=ids)
def test_every_relative_link_resolves(page):
    broken = []
    for target in LINK.findall(prose(page)):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(target)
    assert not broken, f"{ids(page)}: links that do not resolve: {broken}"


@pytest.mark.parametrize("page", PAGES, ids=ids)
def test_no_issue_numbers(page):
    text = page.read_text(encoding="utf-8")
    assert not re.findall(r"(?i)\bissues? #?\d+|\b[\w.-]+/[\w.-]+#\d+", text)


def test_the_readme_stays_a_front_door():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES
    for page in PAGES[1:]:
        assert f"({ids(page)})" in "\n".join(lines), f"the README does not link {ids(page)}"
