"""The playground in headless Chromium (Debian's) against gunicorn serving the digits bundle."""

from __future__ import annotations

import shutil
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import sync_playwright

from tests.reference import MANIFEST, SAMPLES
from tests.server import ROOT, serving

CHROMIUM = "/usr/bin/chromium"  # Debian's package; .ci/run installs it
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
TIMEOUT_MS = 30_000


def _sample(modality: str) -> str:
    return next(item for digit, item in MANIFEST[modality] if digit == DIGIT)


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """The reference bundle served as the README's run command serves it."""
    with serving(tmp_path_factory.mktemp("playground") / "server.log") as url:
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
