"""API keys: who may call the service, checked before any view runs."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from flask import Flask, Request, g, request

from app.errors import Unauthorized

log = logging.getLogger(__name__)

RELOAD_INTERVAL_S = 1.0
API_KEY_HEADER = "X-API-Key"


def key_id(key: bytes) -> str:
    """A short, one-way name for a key: safe for logs and rate-limit counters, unlike the key."""
    return hashlib.sha256(key).hexdigest()[:16]


def read_keys_file(path: Path) -> list[str]:
    """Keys in ``path``: one a line; blank lines and # comments ignored."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


class ApiKeys:
    """The accepted keys: fixed ones plus a file re-read when its mtime changes (live rotation)."""

    def __init__(
        self,
        keys: Iterable[str] = (),
        path: Path | None = None,
        *,
        reload_interval_s: float = RELOAD_INTERVAL_S,
    ) -> None:
        self._fixed = tuple(k.strip() for k in keys if k.strip())
        self.path = path
        self._reload_interval_s = reload_interval_s
        self._lock = threading.Lock()
        self._next_check = 0.0
        self._file_stamp: tuple[int, int, int] | None = None
        self._keys: tuple[bytes, ...] = ()
        if path is not None:
            try:
                self._file_stamp = self._stamp()
            except OSError as exc:
                raise ValueError(f"API keys file {path} cannot be read: {exc}") from None
            self._load()
        else:
            self._keys = self._encode(self._fixed)

    @property
    def enabled(self) -> bool:
        """Auth is on when keys are given or a keys file is named (an empty file refuses all)."""
        return bool(self._fixed) or self.path is not None

    def match(self, presented: str) -> str | None:
        """The id of the key equal to ``presented``, or None; constant time in the key's bytes."""
        self._maybe_reload()
        candidate = presented.encode("utf-8")
        found = None
        # Every key is compared, without an early exit, so timing tells nothing about which
        # key (or how many) came close.
        for key in self._keys:
            if hmac.compare_digest(candidate, key):
                found = key
        return key_id(found) if found is not None else None

    def _maybe_reload(self) -> None:
        if self.path is None or time.monotonic() < self._next_check:
            return
        with self._lock:
            now = time.monotonic()
            if now < self._next_check:
                return
            self._next_check = now + self._reload_interval_s
            try:
                stamp = self._stamp()
            except OSError as exc:
                log.warning(
                    "API keys file %s cannot be read, keeping the last keys: %s",
                    self.path,
                    exc.strerror,
                )
                return
            if stamp != self._file_stamp:
                self._file_stamp = stamp
                self._load()

    def _stamp(self) -> tuple[int, int, int]:
        assert self.path is not None
        st = os.stat(self.path)
        # Size and inode too: an editor may rename a new file into place within one mtime tick.
        return st.st_mtime_ns, st.st_size, st.st_ino

    def _load(self) -> None:
        assert self.path is not None
        try:
            from_file = read_keys_file(self.path)
        except (OSError, UnicodeDecodeError) as exc:
            log.warning(
                "API keys file %s cannot be read, keeping the last keys: %s", self.path, exc
            )
            return
        self._keys = self._encode((*self._fixed, *from_file))
        log.info("API keys: %d loaded (%d from %s)", len(self._keys), len(from_file), self.path)
        if not self._keys:
            log.warning(
                "API keys file %s holds no keys: every request needs one and fails", self.path
            )

    @staticmethod
    def _encode(keys: Iterable[str]) -> tuple[bytes, ...]:
        return tuple(dict.fromkeys(k.encode("utf-8") for k in keys))


def presented_key(req: Request) -> str | None:
    """The key a request carries, from ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``."""
    scheme, _, value = req.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return req.headers.get(API_KEY_HEADER, "").strip() or None


def is_open_path(path: str, open_paths: Iterable[str]) -> bool:
    """Whether ``path`` is listed as open: exactly, or under an entry ending in ``*``."""
    return any(
        path.startswith(entry[:-1]) if entry.endswith("*") else path == entry
        for entry in open_paths
    )


def install_auth(app: Flask, keys: ApiKeys, open_paths: Iterable[str]) -> None:
    """Refuse every request outside ``open_paths`` without a valid key (401, WWW-Authenticate)."""
    open_paths = tuple(open_paths)
    app.extensions["api_keys"] = keys

    @app.before_request
    def require_api_key() -> None:
        if is_open_path(request.path, open_paths):
            return
        presented = presented_key(request)
        if presented is None:
            raise Unauthorized(
                f"an API key is required: send 'Authorization: Bearer KEY' or "
                f"'{API_KEY_HEADER}: KEY'"
            )
        matched = keys.match(presented)
        if matched is None:
            raise Unauthorized("the API key is not valid")  # never echo what was sent
        g.api_key_id = matched
