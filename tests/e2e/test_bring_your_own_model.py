"""docs/bring-your-own-model.md, run: its four models built by its own code (VGG16 smaller), bundled
exactly as it shows, served together by one real gunicorn; every score answered equals
model.predict within 1e-4 on inputs made by the guide's training code (Keras, PIL, librosa, soxr,
tokenizers), never by the service's."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.support.byom_models import (
    GUIDE,
    ROOT,
    build,
    check_answer,
    noise_image,
    predict,
    voice_note,
)
from tests.support.hf_tokenizers import write_tokenizer
from tests.support.server import start_gunicorn, stop, wait_ready

pytestmark = [
    # Building four models, exporting three to ONNX and warming them up, on 2 shared cores.
    pytest.mark.timeout(900),
    # The guide's librosa.load lists audioread's backends, which import the standard library's
    # aifc, audioop and sunau: deprecated since Python 3.11, and warnings are errors here.
    pytest.mark.filterwarnings("ignore:'(aifc|audioop|sunau)' is deprecated:DeprecationWarning"),
]

EXAMPLES = ("reviews", "items", "support", "listing")
# VGG16 at 224x224 costs ~30 s of warm-up here; 32x32 (its smallest) keeps every layer.
SHRINK = {"items": {"SIZE = 224": "SIZE = 32"}}
# Lines of the gunicorn log worth showing when the start fails (the rest is TensorFlow's chatter).
LOG_WORDS = ("error", "failed", "Traceback", "stopping", "runs on")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    """(base URL, the built examples by name) of one gunicorn serving all four bundles."""
    root = tmp_path_factory.mktemp("byom")
    write_tokenizer(root / "tokenizer.json")  # the "tokenizer.json the tower was trained with"
    examples = {name: build(root, name, SHRINK.get(name)) for name in EXAMPLES}
    log = root / "gunicorn.log"
    proc, url = start_gunicorn(
        log,
        MMS_MODELS_DIR=str(root / "my-models"),
        MMS_DEFAULT_MODEL="reviews",
        MMS_ONNX_CACHE_DIR=str(root / "onnx"),
    )
    try:
        try:
            wait_ready(proc, url, log)
        except AssertionError:
            pytest.fail(f"the guide's bundles did not start:\n{_log_lines(log)}", pytrace=False)
        yield url, examples
    finally:
        code = stop(proc)
    assert code == 0, _log_lines(log)


def _log_lines(log: Path) -> str:
    lines = log.read_text(errors="replace").splitlines()
    return "\n".join(line[:600] for line in lines if any(w in line for w in LOG_WORDS))


def _post(url: str, path: str, files: dict[str, bytes], **fields: str) -> dict:
    """A multipart request as ``curl -F`` sends it (files, and fields without a file name); the
    200 answer's JSON."""
    parts = {name: (f"{name}.bin", data) for name, data in files.items()}
    parts.update({name: (None, value) for name, value in fields.items()})
    resp = requests.post(f"{url}{path}", files=parts, timeout=60)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _saved(tmp_path: Path, **files: bytes) -> list[str]:
    """The files written where a training pipeline would read them; their paths."""
    paths = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    return paths


def test_tf_keras_style_h5_model(served, tmp_path):
    url, examples = served
    example = examples["reviews"]
    # Longer than the model's 20 words, with words outside the vocabulary.
    text = "Great shoes and it is cheap but the box was late and broken, " * 3
    photo, note = noise_image(320, 240, "PNG", 1), voice_note(22050, 0.8, 1, 1)
    answer = _post(url, "/predict", {"image": photo, "audio": note}, text=text, top_k="3")
    assert answer["model"] == {"name": "reviews", "version": "1"}
    assert answer["modalities"] == {"text": "provided", "image": "provided", "audio": "provided"}
    photo_path, note_path = _saved(tmp_path, **{"photo.png": photo, "note.wav": note})
    check_answer(example, answer["outputs"], predict(example, text, photo_path, note_path))


def test_keras_applications_backbone_on_two_photos(served, tmp_path):
    url, examples = served
    example = examples["items"]
    # Landscape and portrait, so the centre crop cuts each way.
    front, back = noise_image(60, 45, "JPEG", 2), noise_image(40, 56, "PNG", 3)
    answer = _post(url, "/v1/models/items/predict", {"front": front, "back": back}, top_k="5")
    assert answer["modalities"] == {"front": "provided", "back": "provided"}
    paths = _saved(tmp_path, **{"front.jpg": front, "back.png": back})
    check_answer(example, answer["outputs"], predict(example, *paths))
    # What the guide says of the parts: front is required, "image" is no part of this model.
    resp = requests.post(
        f"{url}/v1/models/items/predict", files={"back": ("b.png", back)}, timeout=60
    )
    assert resp.status_code == 422 and resp.json()["error"]["field"] == "front", resp.text
    resp = requests.post(
        f"{url}/v1/models/items/predict", files={"image": ("f.jpg", front)}, timeout=60
    )
    assert resp.status_code == 400, resp.text
    assert "accepts: back, front, top_k" in resp.json()["error"]["message"]


@pytest.mark.parametrize(
    "text",
    [
        "I was charged twice for my order",
        # Far past 64 tokens, with words the tokenizer never saw: truncated, [SEP] kept.
        "Zebra-striped parcels, refunds & invoices; " * 30,
    ],
    ids=["short", "truncated"],
)
def test_transformer_saved_model_with_hf_tokenizer(served, text):
    url, examples = served
    example = examples["support"]
    answer = _post(url, "/v1/models/support/predict", {}, text=text, top_k="4")
    assert answer["modalities"] == {"text": "provided"}
    check_answer(example, answer["outputs"], predict(example, text))


def test_preprocessing_inside_the_model(served, tmp_path):
    url, examples = served
    example = examples["listing"]
    text = "Hand-knitted WOOL scarf, Vintage 1970s!"
    photo, note = noise_image(300, 200, "JPEG", 4), voice_note(44100, 0.6, 2, 4)
    answer = _post(url, "/v1/models/listing/predict", {"image": photo, "audio": note}, text=text)
    assert answer["modalities"] == {"text": "provided", "image": "provided", "audio": "provided"}
    photo_path, note_path = _saved(tmp_path, **{"photo.jpg": photo, "note.wav": note})
    check_answer(example, answer["outputs"], predict(example, text, photo_path, note_path))


def test_readme_links_the_guide():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Model bundles") :]
    section = section[: section.index("\n## ", 1)]
    assert str(GUIDE.relative_to(ROOT)) in section
