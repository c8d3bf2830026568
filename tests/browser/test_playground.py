"""The playground in headless Chromium (Debian's) against gunicorn serving the digits bundle, and a
model of two image parts (front, back) with multilabel and regression heads."""

from __future__ import annotations

import shutil
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import sync_playwright

from tests.support.bundles import write_bundle
from tests.support.media import image_bytes
from tests.support.reference import MANIFEST, SAMPLES
from tests.support.server import ROOT, serving

CHROMIUM = "/usr/bin/chromium"  # Debian's package; `bash dev.sh test` installs it
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
# A fake microphone (a beep) that needs no permission prompt, for the recording test.
FAKE_MICROPHONE = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
DIGIT = "7"
WORD = "seven"
SCREENSHOT = ROOT / "build" / "playground.png"
SCREENSHOT_PARTS = ROOT / "build" / "playground-parts.png"
TIMEOUT_MS = 30_000


# The two-photo model: tags answered at threshold 0 (every label), "rare" never reaching its own.
PAIR = "pair"
TAGS = ("red", "blue", "green")
PAIR_SIZE = 8
PAIR_BUNDLE = {
    "description": "two photos of one item",
    "inputs": {
        "front": {"modality": "image", "part": "front", "params": {"resize": "stretch"}},
        "back": {
            "modality": "image",
            "part": "back",
            "missing": "required",
            "params": {"resize": "stretch"},
        },
    },
    "outputs": {
        "tags": {"kind": "multilabel", "labels": "labels.txt", "threshold": 0.0},
        "rare": {"kind": "multilabel", "labels": "labels.txt", "threshold": 0.5},
        "price": {"kind": "regression", "names": ["a", "b"]},
    },
}


def _sample(modality: str) -> str:
    return next(item for digit, item in MANIFEST[modality] if digit == DIGIT)


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """The reference bundle served as the README's run command serves it."""
    with serving(tmp_path_factory.mktemp("playground") / "server.log") as url:
        yield url


def _pair_model():
    """Front and back photos; sigmoid tags, a sigmoid head stuck near 0, and a named pair."""
    import keras

    keras.utils.set_random_seed(5)
    front = keras.Input((PAIR_SIZE, PAIR_SIZE, 3), name="front")
    back = keras.Input((PAIR_SIZE, PAIR_SIZE, 3), name="back")
    flat = [keras.layers.Flatten()(x) for x in (front, back)]
    fused = keras.layers.Dense(8, activation="tanh")(keras.layers.Concatenate()(flat))
    never = keras.layers.Dense(
        len(TAGS),
        activation="sigmoid",
        kernel_initializer="zeros",
        bias_initializer=keras.initializers.Constant(-10.0),
        name="rare",
    )
    outputs = {
        "tags": keras.layers.Dense(len(TAGS), activation="sigmoid", name="tags")(fused),
        "rare": never(fused),
        "price": keras.layers.Dense(2, name="price")(fused),
    }
    return keras.Model({"front": front, "back": back}, outputs)


@pytest.fixture(scope="module")
def pair_service(tmp_path_factory):
    """The two-photo bundle served by gunicorn as the only model."""
    root = tmp_path_factory.mktemp("pair-models")
    write_bundle(root, PAIR, 1, model=_pair_model(), spec=PAIR_BUNDLE, labels=TAGS)
    log = tmp_path_factory.mktemp("pair") / "server.log"
    with serving(log, MMS_MODELS_DIR=str(root), MMS_DEFAULT_MODEL=PAIR) as url:
        yield url


@pytest.fixture
def browser(tmp_path):
    """A fresh Chromium profile; yields (context, the URLs of every request it made)."""
    requested: list[str] = []
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS + FAKE_MICROPHONE,
            viewport={"width": 1280, "height": 860},
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.on("request", lambda request: requested.append(request.url))
        try:
            yield context, requested
        finally:
            context.close()


def _assert_only_the_server(requested: list[str], url: str) -> None:
    server = urlsplit(url).netloc
    # blob: and data: URLs are the page's own previews, never the network.
    remote = [u for u in requested if urlsplit(u).scheme not in ("blob", "data")]
    assert remote and all(urlsplit(u).netloc == server for u in remote), requested


def test_upload_image_audio_and_text(service, browser, tmp_path):
    context, requested = browser
    page = context.new_page()
    page.goto(f"{service}/")
    page.wait_for_selector("section[data-modality=image]:not([hidden])")
    assert page.locator("#model").input_value() == "digits"
    image, audio = _sample("image"), _sample("audio")
    page.set_input_files("#image", SAMPLES / image)
    page.set_input_files("#audio", SAMPLES / audio)
    page.locator("#text").press_sequentially(WORD)
    page.click("#submit")
    top = page.locator(".output .bar-row.top .label")
    top.wait_for()
    assert top.text_content() == DIGIT
    assert page.locator(".output .bar-row").count() == 5
    assert "inference" in page.locator("#timing").text_content()
    curl = page.locator("#curl").text_content()
    assert curl.startswith("curl -s")
    for part in (f"-F 'image=@{image}'", f"-F 'audio=@{audio}'", f"--form-string 'text={WORD}'"):
        assert part in curl
    assert f"'{service}/v1/models/digits/predict?top_k=5'" in curl
    shot = tmp_path / "playground.png"
    page.screenshot(path=shot, full_page=True)
    assert shot.stat().st_size > 10_000
    SCREENSHOT.parent.mkdir(exist_ok=True)
    shutil.copy(shot, SCREENSHOT)
    _assert_only_the_server(requested, service)


def test_recording_is_sent_as_wav(service, browser):
    context, requested = browser
    page = context.new_page()
    page.goto(f"{service}/")
    page.wait_for_selector("section[data-modality=audio]:not([hidden])")
    page.click("#record")
    page.wait_for_selector("#record.recording")
    page.wait_for_timeout(700)
    page.click("#record")
    page.wait_for_selector("#audio-name:has-text('recording.wav')")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click("#submit")
    assert answer.value.status == 200, answer.value.text()
    body = answer.value.json()
    assert body["modalities"] == {"audio": "provided", "image": "missing", "text": "missing"}
    page.locator(".output .bar-row.top").wait_for()
    _assert_only_the_server(requested, service)


def test_two_image_parts_multilabel_and_regression(pair_service, browser, tmp_path):
    context, requested = browser
    page = context.new_page()
    page.goto(f"{pair_service}/")
    front, back = "section[data-part=front]", "section[data-part=back]"
    page.wait_for_selector(f"{back}:not([hidden])")
    # One image field per part, titled by its name with the modality beside it; back is required.
    assert page.locator("section[data-part]").count() == 2
    assert page.locator(f"{front} h2").inner_text().split() == ["front", "image"]
    assert page.locator(f"{back} h2").inner_text().split() == ["back", "image", "required"]
    assert "takes front (image), back (image)" in page.locator("#model-info").text_content()
    for name, color in (("front", (200, 30, 30)), ("back", (20, 40, 220))):
        (tmp_path / f"{name}.png").write_bytes(image_bytes("PNG", size=(20, 12), color=color))
    page.set_input_files(f"{front} input[type=file]", tmp_path / "front.png")
    page.set_input_files(f"{back} input[type=file]", tmp_path / "back.png")
    page.wait_for_selector(f"{back} img.preview:not([hidden])")
    assert page.locator(f"{front} .file-name").text_content().startswith("front.png")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click("#submit")
    assert answer.value.status == 200, answer.value.text()
    body = answer.value.json()
    assert body["modalities"] == {"front": "provided", "back": "provided"}
    page.locator(".output[data-output=price] .value-row").first.wait_for()

    chips = page.locator("#outputs .chip.provided").all_text_contents()
    assert sorted(chips) == ["back: provided", "front: provided"]
    # Threshold 0: every label, best first, as the answer has them.
    tags = page.locator(".output[data-output=tags] .bar-row .label").all_text_contents()
    assert tags == [t["label"] for t in body["outputs"]["tags"]]
    assert sorted(tags) == sorted(TAGS)
    assert body["outputs"]["rare"] == []
    rare = page.locator(".output[data-output=rare]")
    assert rare.locator(".bar-row").count() == 0
    assert "no label at or above the threshold (0.5)" in rare.text_content()
    price = page.locator(".output[data-output=price] .value-row")
    names = price.locator(".name").all_text_contents()
    values = [float(v) for v in price.locator(".value").all_text_contents()]
    shown = dict(zip(names, values, strict=True))
    assert list(shown) == ["a", "b"]
    assert shown == pytest.approx(body["outputs"]["price"], rel=1e-5)

    curl = page.locator("#curl").text_content()
    assert "-F 'front=@front.png'" in curl and "-F 'back=@back.png'" in curl
    assert f"'{pair_service}/v1/models/{PAIR}/predict?top_k=5'" in curl
    SCREENSHOT_PARTS.parent.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOT_PARTS, full_page=True)
    _assert_only_the_server(requested, pair_service)
