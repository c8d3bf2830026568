"""The CLI's model is built as the service builds it: the same limits and runtime choice."""

from __future__ import annotations

import dataclasses

from app.cli.local import LOAD_STEPS, load_local
from app.model.served import LOAD_STAGES


def test_progress_steps_follow_the_builder_stages():
    assert LOAD_STEPS[1:-1] == LOAD_STAGES


def test_the_local_model_has_the_audio_header_limits(settings, models_dir):
    limited = dataclasses.replace(
        settings, inference_runtime="tensorflow", max_audio_channels=2, min_audio_sample_rate=16000
    )
    local = load_local(models_dir / "tiny" / "1", limited, warm_up=False)
    try:
        audio = local.bundle.inputs["audio"].preprocessor.describe()
        assert (audio["max_channels"], audio["min_sample_rate"]) == (2, 16000)
        assert local.runtime == "tensorflow" and local.predictor.compiled.buckets == (1,)
    finally:
        local.close()
