"""Markers by folder, and fixtures that chain settings -> app -> client over tiny real bundles."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from app import create_app
from app.settings import BatchingSettings, load_settings
from tests.support.bundles import build_model, bundle_yaml, write_bundle

# Property tests stay bounded in CI; HYPOTHESIS_PROFILE=long searches far longer locally.
hypothesis_settings.register_profile("ci", max_examples=200, deadline=None, database=None)
hypothesis_settings.register_profile("long", max_examples=20_000, deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

TESTS = Path(__file__).resolve().parent
# Every folder but unit/ starts real processes: its name is its marker, and all of them are slow.
SLOW_FOLDERS = ("e2e", "browser", "deploy", "training", "bench", "fuzz")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = item.path.relative_to(TESTS).parts[0]
        if folder in SLOW_FOLDERS:
            item.add_marker(folder)
            item.add_marker("slow")


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tiny v1 and v2 (all modalities optional) and strict v1 (text required, others refused)."""
    root = tmp_path_factory.mktemp("models")
    model = build_model(seed=0)
    write_bundle(root, "tiny", 1, model=model)
    write_bundle(root, "tiny", 2, model=build_model(seed=1))
    strict = bundle_yaml()
    strict["inputs"]["text"]["missing"] = "required"
    write_bundle(root, "strict", 1, model=model, spec=strict)
    return root


@pytest.fixture(scope="session")
def settings(models_dir: Path):
    """The repo's config/service.yaml pointed at the test bundles, with small limits."""
    base = load_settings(environ={})
    return dataclasses.replace(
        base,
        models_dir=str(models_dir),
        default_model="tiny",
        batching=BatchingSettings(max_batch_size=4, max_delay_ms=1.0, max_queue_size=64),
        max_part_bytes={**base.max_part_bytes, "text": 1000},
        max_body_bytes=2 * 1024 * 1024,
        max_instances=8,
    )


@pytest.fixture(scope="session")
def app(settings):
    """One app for the whole session: loading TensorFlow models is the slow part."""
    app = create_app(settings)
    yield app
    app.extensions["lifecycle"].close()


@pytest.fixture
def client(app):
    return app.test_client()
