"""Training-time augmentation of the digits model's log-mel frames."""

import numpy as np

from training.digits_features import INPUTS
from training.train_digits import TIME_WARP, TIME_WARP_SHARE, epoch_arrays, targets, time_warp


def test_time_warp_says_about_half_the_clips_faster_or_slower_about_the_centre():
    word = slice(60, 91)  # 31 voiced frames centred in the 151-frame window
    features = np.zeros((600, 151, 4), dtype=np.float32)
    features[:, word] = 1.0
    warped = time_warp(features, np.random.default_rng(0))

    assert warped.shape == features.shape and warped.dtype == features.dtype
    untouched = (warped == features).all(axis=(1, 2))
    assert abs(untouched.mean() - (1 - TIME_WARP_SHARE)) < 0.06
    voiced = warped[~untouched, :, 0] > 0.5
    widths = voiced.sum(axis=1)
    slowest, fastest = TIME_WARP
    assert widths.max() <= 31 / slowest + 2 and widths.min() >= 31 / fastest - 2
    assert (widths > 40).any() and (widths < 24).any()  # both ways, near the ends of the range
    centres = (voiced * np.arange(151)).sum(axis=1) / widths
    assert np.abs(centres - 75).max() <= 1


def test_no_digit_examples_hold_noise_only_and_train_toward_a_uniform_score():
    labels = np.repeat(np.arange(10), 5)
    pools = {name: (np.repeat(labels[:, None] + 1.0, 3, axis=1), labels) for name in INPUTS}
    noise = {name: (np.full((4, 3), -1.0), np.full(4, -1)) for name in INPUTS}
    batch, digits = epoch_arrays(pools, 4000, np.random.default_rng(0), noise, no_digit=0.1)

    parts = np.stack([batch[name][:, 0] for name in INPUTS], axis=1)
    none = digits == -1
    assert 0.07 < none.mean() < 0.13
    assert ((parts[none] == -1) | (parts[none] == 0)).all() and (parts[none] == -1).any(
        axis=1
    ).all()
    assert ((parts[~none] == digits[~none, None] + 1).any(axis=1)).all()  # one clear part at least
    scores = targets(digits)
    assert np.allclose(scores[none], 0.1) and np.allclose(scores.sum(axis=1), 1)
    assert (scores[~none].argmax(axis=1) == digits[~none]).all()
