"""Coverage-guided fuzz target for the decode path: bytes -> sniff -> the preprocessors.

Any exception that is not a documented 4xx ServiceError is a crash. Run from the repo root:

    PYTHONPATH=. .venv/bin/python tests/fuzz/fuzz_decode.py -max_total_time=3600 CORPUS_DIR

An empty CORPUS_DIR is seeded with real files of every accepted format (see docs/security.md).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["app"]):
    from app.errors import ServiceError
    from app.preprocessing.formats import AUDIO_FORMATS, IMAGE_FORMATS, sniff

from tests.support.hostile import corpus, preprocessors, seeds  # noqa: E402

_VOCAB_DIR = tempfile.TemporaryDirectory(prefix="fuzz-vocab-")
PREPROCESSORS = preprocessors(Path(_VOCAB_DIR.name))


def route(data: bytes) -> list[str]:
    """The preprocessors a service would hand these bytes to (and a wrong one, for its 415)."""
    fmt = sniff(data)
    if fmt in IMAGE_FORMATS:
        return ["image", "audio"]
    if fmt in AUDIO_FORMATS:
        return ["audio", "image"]
    return ["text", "image", "audio"]


def test_one_input(data: bytes) -> None:
    for modality in route(data):
        try:
            PREPROCESSORS[modality](data)
        except ServiceError as exc:
            if not 400 <= exc.status < 500:
                raise AssertionError(f"{modality}: {exc.status} {exc.code}: {exc}") from exc


def seed_corpus(folder: Path) -> None:
    """Real files and the hostile corpus, so the fuzzer starts past every format's magic."""
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        return
    for i, data in enumerate(seeds()):
        (folder / f"seed-{i}").write_bytes(data)
    for case in corpus():
        if len(case.data) < 200_000:
            (folder / f"hostile-{case.name}").write_bytes(case.data)


def main() -> None:
    folders = [arg for arg in sys.argv[1:] if not arg.startswith("-")]
    for folder in folders[:1]:
        seed_corpus(Path(folder))
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
