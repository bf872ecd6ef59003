"""Checks of relu_xf.monitor.keras on the Keras backend named by KERAS_BACKEND.

tests/test_monitor_keras.py runs this file with pytest once per backend, each
in its own process, because Keras picks its backend once per process. When
RELU_XF_MONITOR_OUT names a file, the shared-MLP check writes its measured
statistics there as JSON, so the parent test can compare frameworks.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

sys.path.insert(0, str(Path(__file__).parent))

import mlp_case  # noqa: E402

import relu_xf.keras as rk  # noqa: E402
from relu_xf.monitor.keras import (  # noqa: E402
    DeadUnitCallback,
    activation_layers,
    measure_model,
)

LAYER_CLASSES = {
    "relu": rk.ReLU,
    "leaky_relu": rk.LeakyReLU,
    "thresholded_relu": rk.ThresholdedReLU,
}


def build_mlp() -> keras.Model:
    """Return the shared tiny MLP of mlp_case.py as a Keras Sequential model."""
    layers: list[keras.layers.Layer] = [keras.Input((mlp_case.SIZES[0],))]
    for (kernel, _), (name, variant, params, _) in zip(
        mlp_case.weights(), mlp_case.LAYERS, strict=True
    ):
        layers += [
            keras.layers.Dense(kernel.shape[1], name=f"dense_{name}"),
            LAYER_CLASSES[variant](name=name, **params),
        ]
    model = keras.Sequential(layers)
    for (kernel, bias), (name, *_) in zip(mlp_case.weights(), mlp_case.LAYERS, strict=True):
        model.get_layer(f"dense_{name}").set_weights([kernel, bias])
    return model


def test_mlp_matches_reference():
    assert mlp_case.min_margin() > 1e-4
    measurement = measure_model(build_mlp(), mlp_case.data(), step=5, batch_size=20)
    rows = mlp_case.stats_rows(measurement)
    out = os.environ.get("RELU_XF_MONITOR_OUT")
    if out:
        Path(out).write_text(json.dumps(rows))
    assert measurement.step == 5
    assert list(measurement.layers) == ["act1", "act2", "act3"]
    assert rows == mlp_case.expected_stats()


def test_tuple_data_uses_inputs():
    x = mlp_case.data()
    measurement = measure_model(build_mlp(), (x, np.zeros(len(x))))
    assert mlp_case.stats_rows(measurement) == mlp_case.expected_stats()


def test_finds_activation_layers():
    model = build_mlp()
    assert [layer.name for layer in activation_layers(model)] == ["act1", "act2", "act3"]


def test_model_without_activation_raises():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="relu")])
    with pytest.raises(ValueError, match="no relu_xf activation layer"):
        measure_model(model, np.ones((2, 3), "float32"))


def test_subclassed_model_raises():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)
            self.act = rk.ReLU()

        def call(self, x):
            return self.act(self.dense(x))

    model = Net()
    model(np.ones((1, 3), "float32"))
    with pytest.raises(ValueError, match="no symbolic inputs"):
        measure_model(model, np.ones((2, 3), "float32"))


def test_empty_data_raises():
    with pytest.raises(ValueError, match="empty"):
        measure_model(build_mlp(), np.zeros((0, mlp_case.SIZES[0]), "float32"))


def test_channels_last_conv():
    inputs = keras.Input((5, 5, 2))
    conv = keras.layers.Conv2D(3, 3, padding="same", name="conv")
    outputs = rk.ReLU(name="act")(conv(inputs))
    model = keras.Model(inputs, outputs)
    kernel, _ = conv.get_weights()
    conv.set_weights([kernel, np.array([-100.0, 0.0, 100.0], "float32")])
    x = np.random.default_rng(0).random((4, 5, 5, 2)).astype("float32")
    stats = measure_model(model, x).layers["act"]
    pre = keras.ops.convert_to_numpy(keras.Model(inputs, conv.output)(x))
    assert stats.units == 3
    assert stats.dead_indices == (0,)
    assert stats.inactive_fraction == np.mean(pre <= 0)


def test_bad_callback_arguments_raise():
    with pytest.raises(ValueError, match="every_steps"):
        DeadUnitCallback(mlp_case.data(), every_steps=0)
    with pytest.raises(ValueError, match="batch_size"):
        DeadUnitCallback(mlp_case.data(), batch_size=0)


def _fit(callback: DeadUnitCallback, epochs: int = 2) -> keras.Model:
    model = build_mlp()
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    x = mlp_case.data()
    y = np.random.default_rng(3).normal(size=(len(x), mlp_case.SIZES[-1])).astype("float32")
    model.fit(x, y, batch_size=16, epochs=epochs, callbacks=[callback], verbose=0, shuffle=False)
    return model


def test_callback_measures_at_epochs():
    callback = DeadUnitCallback(mlp_case.data())
    _fit(callback)
    steps = [m.step for m in callback.history.measurements]
    # 64 examples in batches of 16: 4 steps per epoch, plus the measurement before training.
    assert steps == [0, 4, 8]
    assert mlp_case.stats_rows(callback.history.measurements[0]) == mlp_case.expected_stats()


def test_callback_sees_current_weights(tmp_path):
    callback = DeadUnitCallback(
        mlp_case.data(), every_epochs=None, every_steps=1, plot_path=tmp_path / "d.png"
    )
    model = _fit(callback, epochs=1)
    steps = [m.step for m in callback.history.measurements]
    assert steps == [0, 1, 2, 3, 4]
    last = mlp_case.stats_rows(callback.history.latest)
    assert last == mlp_case.stats_rows(measure_model(model, mlp_case.data()))
    inactive = [m.layers["act2"].inactive_fraction for m in callback.history.measurements]
    assert len(set(inactive)) > 1
    assert (tmp_path / "d.png").read_bytes()[:4] == b"\x89PNG"


def test_callback_verbose_prints_report(capsys):
    callback = DeadUnitCallback(mlp_case.data(), verbose=True)
    _fit(callback, epochs=1)
    printed = capsys.readouterr().out
    assert "step 0: 3 activation layers, 64 examples" in printed
    assert "step 4: 3 activation layers, 64 examples" in printed
