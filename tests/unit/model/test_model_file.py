"""Model formats: .keras, .h5 (Keras 3 and tf.keras 2.x) and SavedModel answer alike."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.errors import BundleError
from app.model.model_file import TensorInfo, find_model_file, load_model_file

TOLERANCE = 1e-5
INPUTS = {"x": (4,), "extra": (2,)}
# Saves the same weights with tf.keras 2.x (the tf_keras package), as tutorials do (".h5").
# A subprocess, so that tf_keras never loads beside Keras 3 in the test process.
TF_KERAS_SCRIPT = """
import sys
import numpy as np
import tf_keras as keras

weights = np.load(sys.argv[1])
x = keras.Input((4,), name="x")
extra = keras.Input((2,), name="extra")
hidden = keras.layers.Dense(8, activation="relu", name="hidden")
features = keras.layers.Concatenate()([x, extra])
if sys.argv[4:] == ["lambda"]:
    features = keras.layers.Lambda(lambda t: t * 2)(features)
hidden = hidden(features)
label = keras.layers.Dense(3, activation="softmax", name="label")(hidden)
score = keras.layers.Dense(2, name="score")(hidden)
model = keras.Model([x, extra], [label, score])
for layer in ("hidden", "label", "score"):
    model.get_layer(layer).set_weights([weights[layer + "_w"], weights[layer + "_b"]])
model.save(sys.argv[2])
label, score = model.predict([weights["x"], weights["extra"]], verbose=0)
np.savez(sys.argv[3], label=label, score=score)
"""


def _build(lambda_layer: bool = False):
    import keras

    keras.utils.set_random_seed(0)
    x = keras.Input(INPUTS["x"], name="x")
    extra = keras.Input(INPUTS["extra"], name="extra")
    features = keras.layers.Concatenate()([x, extra])
    if lambda_layer:
        features = keras.layers.Lambda(lambda t: t * 2)(features)
    hidden = keras.layers.Dense(8, activation="relu", name="hidden")(features)
    outputs = {
        "label": keras.layers.Dense(3, activation="softmax", name="label")(hidden),
        "score": keras.layers.Dense(2, name="score")(hidden),
    }
    return keras.Model({"x": x, "extra": extra}, outputs)


def _batch(rows: int = 5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(rows)
    return {
        name: rng.standard_normal((rows, *shape)).astype("float32")
        for name, shape in INPUTS.items()
    }


def _save_tf_keras(
    model, folder: Path, batch: dict[str, np.ndarray], *extra_args: str
) -> dict[str, np.ndarray]:
    """model.h5 from tf.keras 2.x with ``model``'s weights; returns tf.keras' own predictions."""
    if importlib.util.find_spec("tf_keras") is None:
        pytest.skip("tf-keras is not installed (requirements-dev.txt)")
    weights = dict(batch)
    for layer in ("hidden", "label", "score"):
        weights[layer + "_w"], weights[layer + "_b"] = model.get_layer(layer).get_weights()
    np.savez(folder / "weights.npz", **weights)
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    args = [folder / "weights.npz", folder / "model.h5", folder / "predicted.npz"]
    done = subprocess.run(
        [sys.executable, "-c", TF_KERAS_SCRIPT, *map(str, args), *extra_args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (folder / "weights.npz").unlink()
    predicted = np.load(folder / "predicted.npz")
    (folder / "predicted.npz").unlink()
    return {name: predicted[name] for name in predicted.files}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """One model's weights saved in every format, and what model.predict says for a batch."""
    model = _build()
    batch = _batch()
    want = model.predict(batch, verbose=0)
    root = tmp_path_factory.mktemp("formats")
    folders = {name: root / name for name in ("keras", "h5", "tf_keras_h5", "saved_model")}
    for folder in folders.values():
        folder.mkdir()
    model.save(folders["keras"] / "model.keras")
    model.save(folders["h5"] / "model.h5")
    model.export(folders["saved_model"] / "saved_model", format="tf_saved_model", verbose=False)
    tf_keras_predicted = _save_tf_keras(model, folders["tf_keras_h5"], batch)
    return folders, batch, want, tf_keras_predicted


def _close(got: dict, want: dict) -> None:
    assert sorted(got) == sorted(want)
    for name in want:
        np.testing.assert_allclose(np.asarray(got[name]), want[name], rtol=0, atol=TOLERANCE)


@pytest.mark.slow  # saves three formats
@pytest.mark.parametrize("kind", ["keras", "h5", "tf_keras_h5", "saved_model"])
def test_every_format_answers_as_model_predict(saved, kind):
    import tensorflow as tf

    folders, batch, want, tf_keras_predicted = saved
    model = load_model_file(folders[kind], f"m/{kind}")
    assert model.format == {"tf_keras_h5": "h5"}.get(kind, kind)
    assert model.path == find_model_file(folders[kind], "m")
    assert sorted(model.inputs, key=lambda t: t.name) == [
        TensorInfo("extra", (2,), "float32"),
        TensorInfo("x", (4,), "float32"),
    ]
    activations = {"label": "softmax", "score": "linear"}
    if kind == "saved_model":
        activations = {"label": None, "score": None}  # a signature does not keep layers
    assert model.outputs == [
        TensorInfo(name, shape, "float32", activations[name])
        for name, shape in (("label", (3,)), ("score", (2,)))
    ]
    got = tf.function(model)({name: tf.constant(x) for name, x in batch.items()})
    _close(got, want)
    if kind == "tf_keras_h5":
        _close(got, tf_keras_predicted)


@pytest.mark.slow  # the saved formats, tf-keras in a process
@pytest.mark.parametrize("kind", ["tf_keras_h5", "saved_model"])
def test_onnx_export_runs_on_onnx_runtime_with_the_same_outputs(saved, kind, tmp_path):
    import onnxruntime as ort

    folders, batch, want, _ = saved
    model = load_model_file(folders[kind], f"m/{kind}")
    target = tmp_path / "model.onnx"
    model.export_onnx(str(target))
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    assert sorted(i.name for i in session.get_inputs()) == ["extra", "x"]
    names = [o.name for o in session.get_outputs()]
    outputs = [o.name for o in model.outputs]
    if kind == "saved_model":
        assert sorted(names) == outputs  # named as the signature's outputs
    # As OnnxModel reads them: by name when the exporter kept the names, else in model order.
    run = outputs if sorted(names) == sorted(outputs) else names
    _close(dict(zip(outputs, session.run(run, batch), strict=True)), want)


@pytest.mark.slow  # tf-keras in a process
@pytest.mark.parametrize("file_name", ["model.keras", "model.h5", "tf_keras model.h5"])
def test_a_lambda_layer_is_refused(tmp_path, file_name):
    model = _build(lambda_layer=True)
    if file_name.startswith("tf_keras"):
        _save_tf_keras(model, tmp_path, _batch(), "lambda")
    else:
        model.save(tmp_path / file_name)
    with pytest.raises(BundleError) as caught:
        load_model_file(tmp_path, "m/1")
    message = str(caught.value)
    assert message.startswith("m/1: model.") and "cannot be loaded safely" in message
    assert "Lambda" in message and "\n" not in message


def test_a_saved_model_without_serving_default_is_refused(tmp_path):
    import tensorflow as tf

    module = tf.Module()
    module.scale = tf.Variable(2.0)
    module.predict = tf.function(
        lambda x: {"y": x * module.scale}, input_signature=[tf.TensorSpec((None, 4), tf.float32)]
    )
    tf.saved_model.save(
        module, str(tmp_path / "saved_model"), signatures={"predict": module.predict}
    )
    with pytest.raises(
        BundleError,
        match=r"^m/1: saved_model/ has no 'serving_default' signature; "
        r"it has \['predict'\]$",
    ):
        load_model_file(tmp_path, "m/1")


def test_none_or_several_model_files_are_refused(tmp_path, saved):
    with pytest.raises(
        BundleError, match=r"^m/1: no model: expected one of model.keras, model.h5, saved_model/$"
    ):
        find_model_file(tmp_path, "m/1")
    folders = saved[0]
    (tmp_path / "model.keras").write_bytes((folders["keras"] / "model.keras").read_bytes())
    (tmp_path / "saved_model").mkdir()
    with pytest.raises(BundleError, match=r"^m/1: several models \(model.keras, saved_model/\)"):
        load_model_file(tmp_path, "m/1")


def test_a_model_outside_the_bundle_is_refused(tmp_path, saved):
    folders = saved[0]
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "model.keras").symlink_to(folders["keras"] / "model.keras")
    outside = r"^m/1: model file 'model.keras' resolves to .*, outside the bundle"
    with pytest.raises(BundleError, match=outside):
        load_model_file(bundle, "m/1")
    # A link inside a SavedModel folder counts as much as the folder itself.
    (bundle / "model.keras").unlink()
    (bundle / "saved_model").mkdir()
    (bundle / "saved_model" / "saved_model.pb").symlink_to(
        folders["saved_model"] / "saved_model" / "saved_model.pb"
    )
    with pytest.raises(BundleError, match=r"'saved_model/saved_model.pb' resolves to .*, outside"):
        load_model_file(bundle, "m/1")


def test_digest_follows_the_content_of_a_file_or_folder(saved, tmp_path):
    import shutil

    folders = saved[0]
    model = load_model_file(folders["saved_model"], "m/1")
    copy = tmp_path / "copy"
    shutil.copytree(folders["saved_model"], copy)
    assert load_model_file(copy, "m/1").digest() == model.digest()
    (copy / "saved_model" / "assets" / "extra.txt").write_text("more")
    assert load_model_file(copy, "m/1").digest() != model.digest()
    keras_file = load_model_file(folders["keras"], "m/1")
    assert len(keras_file.digest()) == 64 and keras_file.digest() != model.digest()


def test_a_string_input_is_reported_as_string(tmp_path):
    import keras
    import tensorflow as tf

    text = keras.Input((1,), dtype="string", name="sentence")
    vectorize = keras.layers.TextVectorization(vocabulary=["a", "cat"], output_sequence_length=3)
    embedded = keras.layers.Embedding(4, 2)(vectorize(text))
    score = keras.layers.Dense(1, activation="sigmoid", name="score")(
        keras.layers.Flatten()(embedded)
    )
    keras_model = keras.Model(text, score)
    keras_model.save(tmp_path / "model.keras")
    sentences = np.array([[b"a cat"], [b""], [b"dog"]], dtype=object)
    want = keras_model.predict(tf.constant(sentences), verbose=0)
    model = load_model_file(tmp_path, "m/1")
    assert model.inputs == [TensorInfo("sentence", (1,), "string")]
    assert model.outputs == [TensorInfo("score", (1,), "float32", "sigmoid")]
    got = model({"sentence": tf.constant(sentences)})
    np.testing.assert_allclose(got["score"].numpy(), want, atol=TOLERANCE)
