"""A request's uploads decode side by side when a preprocessing slot is free, in turn when not."""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest

from app.errors import UnprocessableInput, UnsupportedMediaType
from app.model.device import configure_tensorflow
from app.model.registry import ModelRegistry
from tests.support.media import audio_bytes, image_bytes

UPLOADS = {"image": image_bytes(size=(96, 64)), "audio": audio_bytes(seconds=1.0), "text": "seven"}


class Recording:
    """The real preprocessor, noting which thread ran it."""

    def __init__(self, inner, threads: dict[str, str]) -> None:
        self._inner, self._threads = inner, threads

    def __call__(self, data):
        self._threads[self._inner.modality] = threading.current_thread().name
        return self._inner(data)

    def __getattr__(self, name):
        return getattr(self._inner, name)


@pytest.fixture(scope="module", params=[2, 1], ids=["spare-slot", "one-slot"])
def served(request, settings, models_dir):
    one = dataclasses.replace(settings, models=("tiny",), preprocess_concurrency=request.param)
    registry = ModelRegistry(one, models_dir, configure_tensorflow(one))
    predictor = registry.get("tiny", 1)
    threads: dict[str, str] = {}
    for name, spec in predictor.bundle.inputs.items():
        predictor.bundle.inputs[name] = dataclasses.replace(
            spec, preprocessor=Recording(spec.preprocessor, threads)
        )
    for name, part in predictor.bundle.parts.items():
        inputs = tuple(predictor.bundle.inputs[spec.name] for spec in part.inputs)
        predictor.bundle.parts[name] = dataclasses.replace(part, inputs=inputs)
    yield request.param, predictor, threads
    registry.close()


def test_uploads_run_beside_only_with_a_spare_slot(served):
    slots, predictor, threads = served
    threads.clear()
    [answer] = predictor.predict([UPLOADS], top_k=3)
    assert set(answer["modalities"].values()) == {"provided"}
    here = threading.current_thread().name
    first, *others = (spec.modality for spec in predictor.bundle.inputs.values())
    assert threads[first] == here
    if slots == 2:  # the others ran in one helper thread, which holds the spare slot
        assert {threads[m] for m in others} == {threads[others[0]]} != {here}
        assert threads[others[0]].startswith("preprocess")
    else:
        assert {threads[m] for m in others} == {here}
    # The borrowed slot is back: every slot can be taken again.
    taken = [predictor._preprocess_slots.acquire(blocking=False) for _ in range(slots)]
    assert all(taken)
    for _ in taken:
        predictor._preprocess_slots.release()


def test_features_do_not_depend_on_where_they_ran(served):
    _, predictor, _ = served
    together, _ = predictor._preprocess(UPLOADS)
    for name, spec in predictor.bundle.inputs.items():
        alone, _ = predictor._preprocess({spec.modality: UPLOADS[spec.modality]})
        np.testing.assert_array_equal(together[name], alone[name])


def test_the_first_bad_part_in_input_order_is_reported(served):
    _, predictor, _ = served
    order = [spec.modality for spec in predictor.bundle.inputs.values()]
    broken = {"image": b"not an image", "audio": b"not audio either", "text": "seven"}
    with pytest.raises(UnsupportedMediaType) as caught:
        predictor.predict([broken], top_k=1)
    assert caught.value.field == min(("image", "audio"), key=order.index)
    with pytest.raises(UnprocessableInput) as caught:
        predictor.predict([{**UPLOADS, "text": " "}], top_k=1)
    assert caught.value.field == "text"
    with pytest.raises(UnsupportedMediaType) as caught:
        predictor.predict([{**UPLOADS, "audio": b"not audio"}], top_k=1)
    assert caught.value.field == "audio"
