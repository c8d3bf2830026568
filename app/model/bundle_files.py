"""The files of a bundle folder: paths kept inside it, bundle.yaml, label lists."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from app.errors import BundleError

# ASCII digits with no leading zero: str.isdigit() also holds for '²' (which int() refuses) and
# '١' (which int() reads as 1), and '01' would name the folder '1' once read back.
VERSION = re.compile(r"[1-9][0-9]*")


def parse_version(text: str) -> int | None:
    """The version a folder name or URL segment names (a positive integer), or None."""
    return int(text) if VERSION.fullmatch(text) else None


def version_of(bundle_dir: Path, where: str) -> int:
    """The version ``bundle_dir``'s name gives, or a BundleError saying what a bundle folder is."""
    version = parse_version(bundle_dir.name)
    if version is None:
        raise BundleError(
            f"{where}: a bundle folder is <models>/<name>/<version>, the version a positive integer"
        )
    return version


def bundle_file(bundle_dir: Path, file_name: Any, where: str, what: str = "file") -> Path:
    """``bundle_dir / file_name``, refused when it is absolute, has ``..`` or resolves outside."""
    name = str(file_name)
    if Path(name).is_absolute() or ".." in Path(name).parts:
        raise BundleError(f"{where}: {what} {name!r} must be a plain path inside the bundle folder")
    path = bundle_dir / name
    # A symlink is followed to where it really points: that must stay inside the bundle too.
    resolved = path.resolve()
    if not resolved.is_relative_to(bundle_dir.resolve()):
        raise BundleError(
            f"{where}: {what} {name!r} resolves to {resolved}, outside the bundle folder"
        )
    return path


def read_yaml(path: Path, where: str) -> dict[str, Any]:
    if not path.is_file():
        raise BundleError(f"{where}: bundle.yaml is missing")
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise BundleError(f"{where}: bundle.yaml is not valid YAML: {exc}") from None
    if not isinstance(spec, dict):
        raise BundleError(f"{where}: bundle.yaml must be a mapping")
    return spec


def read_labels(bundle_dir: Path, file_name: Any, kind: str, where: str) -> tuple[str, ...]:
    if not file_name:
        raise BundleError(f"{where}: a {kind} output needs a 'labels' file")
    path = bundle_file(bundle_dir, file_name, where, what="labels")
    if not path.is_file():
        raise BundleError(f"{where}: labels file {path} is missing")
    return tuple(
        line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    )
