"""One builder makes a served model from a bundle folder: the settings' limits, its runtime."""

from __future__ import annotations

import dataclasses
import threading

from app.model.device import configure_tensorflow
from app.model.served import LOAD_STAGES, load_served_model
from app.settings import BatchingSettings

ONE_AT_A_TIME = BatchingSettings(max_batch_size=1, max_delay_ms=0.0, max_queue_size=4)


def test_the_builder_takes_limits_and_runtime_from_the_settings(settings, models_dir):
    limited = dataclasses.replace(
        settings,
        inference_runtime="tensorflow",
        min_audio_sample_rate=11025,
        max_audio_sample_rate=44100,
        max_audio_channels=2,
    )
    stages: list[str] = []
    served = load_served_model(
        models_dir / "tiny" / "1",
        limited,
        configure_tensorflow(limited),
        batching=ONE_AT_A_TIME,
        preprocess_slots=threading.BoundedSemaphore(1),
        on_stage=stages.append,
    )
    try:
        assert stages == list(LOAD_STAGES)
        audio = served.bundle.inputs["audio"].preprocessor.describe()
        limits = (audio["min_sample_rate"], audio["max_sample_rate"], audio["max_channels"])
        assert limits == (11025, 44100, 2)
        assert (served.runtime, served.runtime_note) == ("tensorflow", None)
        served.warm_up()  # its sample is 44.1 kHz stereo: within these limits
        [result] = served.predictor.predict([{"text": "seven"}], top_k=1)
        assert result["modalities"] == {"image": "missing", "audio": "missing", "text": "provided"}
        [row] = served.predictor.infer([{"text": "seven"}], [{}])
        assert set(row) == set(served.bundle.outputs)
    finally:
        served.close()
