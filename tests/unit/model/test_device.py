"""Device choice from the device setting and the number of visible GPUs."""

from __future__ import annotations

import pytest

from app.model.device import _choose


@pytest.mark.parametrize(
    "wanted,gpus,device",
    [
        ("auto", 0, "CPU:0"),
        ("auto", 2, "GPU:0"),
        ("cpu", 2, "CPU:0"),
        ("CPU", 0, "CPU:0"),
        ("gpu:1", 2, "GPU:1"),
        (" gpu:0 ", 1, "GPU:0"),
        ("gpu", 1, "GPU:0"),
        ("GPU", 2, "GPU:0"),
    ],
)
def test_device_choice(wanted, gpus, device):
    assert _choose(wanted, gpus) == device


@pytest.mark.parametrize(
    "wanted,gpus,fragment",
    [
        ("gpu:1", 1, "1 GPU"),
        ("gpu:0", 0, "no GPU is visible"),
        ("gpu", 0, "no GPU is visible.*MMS_DEVICE=cpu"),
        ("tpu", 0, "expected auto, cpu, gpu or gpu:N"),
        ("gpu:x", 1, "expected"),
    ],
)
def test_impossible_device_is_refused(wanted, gpus, fragment):
    with pytest.raises(ValueError, match=fragment):
        _choose(wanted, gpus)
