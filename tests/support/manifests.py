"""Load the Kubernetes manifests under deploy/k8s/ and find the parts the tests compare."""

from __future__ import annotations

import os
import runpy
from pathlib import Path
from typing import Any

import yaml

from tests.support.server import ROOT

K8S_DIR = ROOT / "deploy" / "k8s"
GUNICORN_CONF = ROOT / "config" / "gunicorn.conf.py"
KSERVE_API = "serving.kserve.io/v1beta1"


def manifest_files() -> list[Path]:
    """Every YAML file under deploy/k8s/, subfolders (variants, KServe) included."""
    return sorted(K8S_DIR.rglob("*.yaml"))


def documents(path: Path) -> list[dict[str, Any]]:
    """The non-empty YAML documents of one manifest file."""
    with open(path, encoding="utf-8") as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


def all_documents() -> list[tuple[Path, dict[str, Any]]]:
    """(file, document) for every document under deploy/k8s/."""
    return [(path, doc) for path in manifest_files() for doc in documents(path)]


def find(kind: str, folder: Path = K8S_DIR) -> dict[str, Any]:
    """The one document of ``kind`` directly in ``folder``."""
    found = [doc for path in sorted(folder.glob("*.yaml")) for doc in documents(path)]
    found = [doc for doc in found if doc["kind"] == kind]
    assert len(found) == 1, f"{len(found)} {kind} in {folder}"
    return found[0]


def container_env(container: dict[str, Any]) -> dict[str, str]:
    """A container's literal env values by name."""
    return {item["name"]: item["value"] for item in container.get("env", []) if "value" in item}


def gunicorn_config(env: dict[str, str]) -> dict[str, Any]:
    """config/gunicorn.conf.py evaluated as the container would, with its env on top of ours."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        return runpy.run_path(str(GUNICORN_CONF))
    finally:  # the config also sets defaults in os.environ; leave the test process as it was
        os.environ.clear()
        os.environ.update(saved)


def container_port(container: dict[str, Any], port: int | str) -> int:
    """A probe's or Service's port, named or numbered, as the container's port number."""
    if isinstance(port, int):
        return port
    by_name = {p["name"]: p["containerPort"] for p in container["ports"] if "name" in p}
    return by_name[port]
