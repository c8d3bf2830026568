"""Reading bundle.yaml preprocessing parameters; every mistake is a BundleError naming the key."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from app.errors import BundleError


def check_known(params: dict[str, Any], known: set[str], modality: str) -> None:
    """Refuse keys a preprocessor does not understand (typos would silently do nothing)."""
    unknown = set(params) - known
    if unknown:
        raise BundleError(
            f"unknown {modality} parameters {sorted(unknown)}; known: {sorted(known)}"
        )


def choice(params: dict[str, Any], key: str, choices: tuple[str, ...]) -> str:
    """One of ``choices``; the first is the default."""
    value = params.get(key, choices[0])
    if value not in choices:
        raise BundleError(f"{key} {value!r}; known: {list(choices)}")
    return value


def flag(params: dict[str, Any], key: str, default: bool) -> bool:
    """A YAML boolean."""
    value = params.get(key, default)
    if not isinstance(value, bool):
        raise BundleError(f"{key} must be true or false, got {value!r}")
    return value


def positive_int(params: dict[str, Any], key: str, default: int) -> int:
    """A positive integer."""
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise BundleError(f"{key} must be a positive integer, got {value!r}")
    return value


def number(params: dict[str, Any], key: str, default: float, *, allow_zero: bool = False) -> float:
    """A finite positive (or, with ``allow_zero``, non-negative) number."""
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BundleError(f"{key} must be a number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise BundleError(f"{key} must be {'>= 0' if allow_zero else 'positive'}, got {value!r}")
    return float(value)


def asset_path(bundle_dir: Path, params: dict[str, Any], key: str, default: str) -> Path:
    """The bundle file a parameter names: a plain relative path that stays inside the bundle."""
    name = params.get(key, default)
    if not isinstance(name, str) or not name:
        raise BundleError(f"{key} must be a file name, got {name!r}")
    if Path(name).is_absolute() or ".." in Path(name).parts:
        raise BundleError(f"{key} {name!r} must be a plain path inside the bundle folder")
    path = Path(bundle_dir) / name
    # A symlink is followed to where it really points: that must stay inside the bundle too.
    resolved = path.resolve()
    if not resolved.is_relative_to(Path(bundle_dir).resolve()):
        raise BundleError(f"{key} {name!r} resolves to {resolved}, outside the bundle folder")
    if not path.is_file():
        raise BundleError(f"{key} {name!r} is missing from the bundle folder")
    return path
