"""A client generated from /openapi.json by openapi-python-client works against the live service.

No glue code: the test generates the client package from the document the server serves, imports
it, and calls the reference model through it with JSON, multipart and v2 requests.
"""

from __future__ import annotations

import importlib
import io
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.support.reference import SAMPLES
from tests.support.server import serving


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The reference bundle behind real gunicorn, and a client package generated from it."""
    tmp = tmp_path_factory.mktemp("openapi-client")
    with serving(tmp / "server.log") as url:
        document = tmp / "openapi.json"
        document.write_bytes(requests.get(f"{url}/openapi.json", timeout=10).content)
        generator = Path(sys.executable).with_name("openapi-python-client")
        out = tmp / "client"
        run = subprocess.run(
            [
                str(generator),
                "generate",
                "--path",
                str(document),
                "--output-path",
                str(out),
                "--meta",
                "none",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        sys.path.insert(0, str(out.parent))
        try:
            importlib.invalidate_caches()
            yield url, importlib.import_module(out.name)
        finally:
            sys.path.remove(str(out.parent))
            for name in [m for m in sys.modules if m == out.name or m.startswith(out.name + ".")]:
                del sys.modules[name]


def _api(client_package, module: str):
    return importlib.import_module(f"{client_package.__name__}.api.{module}")


def _models(client_package):
    return importlib.import_module(f"{client_package.__name__}.models")


def test_generated_client_lists_and_describes_models(served):
    url, pkg = served
    with pkg.Client(base_url=url) as client:
        _check_models(pkg, client)


def _check_models(pkg, client) -> None:
    listing = _api(pkg, "models.list_models").sync(client=client)
    assert [m.name for m in listing.models] == ["digits"] and listing.default_model == "digits"
    meta = _api(pkg, "models.model_metadata").sync(name="digits", client=client)
    assert {i.modality.value for i in meta.inputs} == {"image", "audio", "text"}


def test_generated_client_predicts_with_json_multipart_and_urlencoded(served):
    url, pkg = served
    with pkg.Client(base_url=url) as client:
        _check_predictions(pkg, client)


def _check_predictions(pkg, client) -> None:
    models = _models(pkg)
    predict = _api(pkg, "predict.predict")
    answer = predict.sync(client=client, body=models.PredictJson(text="seven", top_k=2))
    assert answer.to_dict()["outputs"]["digit"][0]["label"] == "7"
    assert len(answer.to_dict()["outputs"]["digit"]) == 2
    image = (SAMPLES / "image_4_0.png").read_bytes()
    audio = (SAMPLES / "audio_4_0.wav").read_bytes()
    form = models.PredictForm(
        image=pkg.types.File(payload=io.BytesIO(image), file_name="four.png"),
        audio=pkg.types.File(payload=io.BytesIO(audio), file_name="four.wav"),
    )
    answer = predict.sync(client=client, body=form)
    assert answer.to_dict()["outputs"]["digit"][0]["label"] == "4"
    assert answer.to_dict()["modalities"] == {
        "image": "provided",
        "audio": "provided",
        "text": "missing",
    }
    answer = predict.sync(client=client, body=models.PredictUrlencoded(text="two"))
    assert answer.to_dict()["outputs"]["digit"][0]["label"] == "2"


def test_generated_client_parses_errors_and_v2(served):
    url, pkg = served
    with pkg.Client(base_url=url) as client:
        _check_errors_and_v2(pkg, client)


def _check_errors_and_v2(pkg, client) -> None:
    models = _models(pkg)
    full = _api(pkg, "predict.predict").sync_detailed(
        client=client, body=models.PredictJson(text="\x00")
    )
    assert full.status_code == 422 and full.parsed.error.code == "unprocessable_input"
    metadata = _api(pkg, "v2.server_metadata").sync(client=client)
    assert "binary_tensor_data" in metadata.extensions
    assert _api(pkg, "v2.live").sync(client=client).live is True
