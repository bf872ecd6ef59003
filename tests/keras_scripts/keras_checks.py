"""Checks of relu_xf.keras on the Keras backend named by KERAS_BACKEND.

tests/test_keras.py runs this file with pytest once per backend, each in its
own process, because Keras picks its backend once per process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import relu_xf  # noqa: E402
import relu_xf.keras as rk  # noqa: E402
from relu_xf import parity  # noqa: E402
from relu_xf._variants import VARIANTS  # noqa: E402
from relu_xf.numpy import reference_value  # noqa: E402

BACKEND = keras.backend.backend()
LOADER = Path(__file__).with_name("keras_load_model.py")
NAMES = [v.name for v in VARIANTS]
ELEMENTWISE = [v.name for v in VARIANTS if v.elementwise and not v.learnable]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_parity_within_bounds(name, dtype, request):
    variant = relu_xf.spec(name)
    if name == "mish" and dtype == "float64" and BACKEND == "jax":
        request.applymarker(
            pytest.mark.xfail(
                reason="XLA's float64 tanh on CPU misses the bound (also for relu_xf.jax)",
                strict=False,
            )
        )
    for overrides in parity.param_cases(variant):
        result = parity.run_case(rk, "keras", "eager", variant, overrides, dtype)
        if result.unsupported is not None:
            pytest.xfail(f"{BACKEND} cannot run {dtype}: {result.unsupported}")
        assert result.passed, "; ".join(result.failures)


def test_harness_runs_keras_backend():
    results = parity.run(["keras"], ["relu6", "thresholded_relu"], ["float32"])
    assert len(results) == 3
    assert all(r.unsupported is None for r in results)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_function_forms_agree(name):
    x = keras.ops.convert_to_tensor(np.linspace(-5, 5, 21, dtype=np.float32).reshape(3, 7))
    expected = reference_value(
        relu_xf.spec(name), relu_xf.spec(name).bind(), np.asarray(x, np.float64)
    )
    by_get = relu_xf.get(name, backend="keras")(x)
    by_module = getattr(rk, name)(x)
    by_string = keras.activations.get(rk.activation_name(name))(x)
    by_layer = relu_xf.layer(name, backend="keras")(x)
    for result in (by_get, by_module, by_string, by_layer):
        assert rk.dtype_name(result) == "float32"
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(result), expected, rtol=1e-5, atol=1e-6
        )


def test_string_names_cover_aliases():
    for variant in VARIANTS:
        for alias in (variant.name, *variant.aliases):
            assert keras.activations.get("relu_xf>" + alias) is getattr(rk, variant.name)
    assert keras.activations.get("leaky_relu") is not rk.leaky_relu


def test_string_in_dense_layer():
    layer = keras.layers.Dense(4, activation="relu_xf>leaky_relu")
    assert layer.activation is rk.leaky_relu
    config = keras.layers.Dense.from_config(layer.get_config()).get_config()
    assert config["activation"]["config"] == "relu_xf>leaky_relu"


def test_registration_error_names_version(monkeypatch):
    from keras.src import activations as keras_activations

    monkeypatch.delattr(keras_activations, "ALL_OBJECTS_DICT")
    with pytest.raises(RuntimeError, match=f"Keras {keras.__version__}"):
        rk.register_activation_names()


def test_activation_function_config_round_trip():
    function = relu_xf.get("softplus", backend="keras", beta=2.0, threshold=10.0)
    config = keras.saving.serialize_keras_object(function)
    restored = keras.saving.deserialize_keras_object(config)
    assert restored.get_config() == function.get_config()
    assert restored.get_config()["beta"] == 2.0


@pytest.mark.parametrize("name", NAMES)
def test_layer_config_round_trip(name):
    params = {v.name: {} for v in VARIANTS}
    params.update(
        leaky_relu={"negative_slope": 0.2},
        crelu={"axis": 1},
        rrelu={"lower": 0.1, "upper": 0.2, "seed": 3},
        gelu={"approximate": "tanh"},
        prelu={"shared_axes": [1]},
    )
    layer = rk.make_layer(name, **params[name])
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    assert keras.saving.get_registered_name(type(layer)) == "relu_xf>" + type(layer).__name__
    for key, value in params[name].items():
        assert config[key] == value


@pytest.mark.parametrize(
    "name, params, error",
    [
        ("leaky_relu", {"negative_slope": float("nan")}, ValueError),
        ("elu", {"alpha": -1.0}, ValueError),
        ("gelu", {"approximate": "fast"}, ValueError),
        ("relu", {"max_value": 0.0, "threshold": 1.0}, ValueError),
        ("rrelu", {"lower": 0.5, "upper": 0.1}, ValueError),
        ("rrelu", {"training": True}, TypeError),
        ("crelu", {"axis": 1.5}, TypeError),
        ("prelu", {"shared_axes": [1], "channel_axis": 1}, ValueError),
        ("prelu", {"channel_axis": "last"}, TypeError),
    ],
)
def test_layer_constructor_rejects(name, params, error):
    with pytest.raises(error, match="(?i)" + name):
        rk.make_layer(name, **params)


def test_integer_input_raises_type_error():
    x = keras.ops.convert_to_tensor(np.arange(4, dtype=np.int32))
    with pytest.raises(TypeError, match="int32"):
        rk.relu(x)
    with pytest.raises(TypeError, match="bool"):
        rk.LeakyReLU()(keras.ops.convert_to_tensor(np.array([True])))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_input_keeps_dtype(dtype):
    x = keras.ops.cast(keras.ops.convert_to_tensor(np.array([-1.0, 2.0], np.float32)), dtype)
    assert rk.dtype_name(rk.gelu(x)) == dtype
    assert rk.dtype_name(rk.crelu(x)) == dtype


def test_crelu_output_shape():
    layer = rk.CReLU(axis=1)
    assert layer.compute_output_shape((None, 3, 5)) == (None, 6, 5)
    inputs = keras.Input((3, 5))
    assert tuple(layer(inputs).shape) == (None, 6, 5)
    y = layer(keras.ops.ones((2, 3, 5)))
    assert tuple(y.shape) == (2, 6, 5)
    with pytest.raises(ValueError, match="axis=3"):
        rk.CReLU(axis=3)(keras.ops.ones((2, 3, 5)))


def test_rrelu_follows_training_flag():
    layer = rk.RReLU(lower=0.1, upper=0.3, seed=1)
    x = keras.ops.convert_to_tensor(-np.ones((64, 64), np.float32))
    inference = keras.ops.convert_to_numpy(layer(x, training=False))
    np.testing.assert_array_equal(inference, np.full((64, 64), -0.2, np.float32))
    drawn = -keras.ops.convert_to_numpy(layer(x, training=True))
    assert drawn.min() >= 0.1
    assert drawn.max() <= 0.3
    assert np.unique(drawn).size > 100
    again = -keras.ops.convert_to_numpy(layer(x, training=True))
    assert not np.array_equal(drawn, again)


def test_rrelu_training_gradient_uses_draw():
    function = relu_xf.get("rrelu", backend="keras", training=True, lower=0.1, upper=0.3)
    x = keras.ops.convert_to_tensor(-np.ones(256, np.float32))
    y, g = rk._value_and_gradient(lambda t: function(t, seed=5), x)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(g), keras.ops.convert_to_numpy(-y))


def test_prelu_weight_gradient():
    x = keras.ops.convert_to_tensor(np.array([[-2.0, 3.0], [-1.0, -4.0]], np.float32))
    layer = rk.PReLU(channel_axis=1)
    layer.build(x.shape)
    assert tuple(layer.alpha.shape) == (2,)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.alpha), [0.25, 0.25])
    expected = np.array([-3.0, -4.0])
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            total = tf.reduce_sum(layer(x))
        grad = tape.gradient(total, layer.alpha.value)
    elif BACKEND == "jax":
        import jax

        grad = jax.grad(lambda a: layer.stateless_call([a], [], x)[0].sum())(layer.alpha.value)
    else:
        total = layer(x).sum()
        total.backward()
        grad = layer.alpha.value.grad
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(grad), expected)


def test_symbolic_input_uses_layer():
    inputs = keras.Input((4,))
    outputs = rk.silu(inputs)
    model = keras.Model(inputs, outputs)
    assert isinstance(model.layers[-1], rk.SiLU)
    with pytest.raises(TypeError, match="PReLU"):
        rk.prelu(inputs, np.array([0.25], np.float32))


def _build_model():
    inputs = keras.Input((6,))
    h = keras.layers.Dense(8, activation="relu_xf>leaky_relu")(inputs)
    h = keras.layers.Dense(8, activation=relu_xf.get("softplus", backend="keras", beta=2.0))(h)
    h = keras.layers.Dense(8, activation=rk.gelu)(h)
    h = rk.PReLU(name="prelu")(h)
    h = rk.CReLU(axis=-1)(h)
    h = relu_xf.layer("elu", backend="keras", alpha=0.5)(h)
    outputs = keras.layers.Dense(3, activation="relu_xf>hard_swish")(h)
    return keras.Model(inputs, outputs)


def test_save_and_load_in_fresh_process(tmp_path):
    keras.utils.set_random_seed(0)
    model = _build_model()
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 6)).astype(np.float32)
    y = rng.normal(size=(32, 3)).astype(np.float32)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    alpha = keras.ops.convert_to_numpy(model.get_layer("prelu").alpha)
    assert not np.all(alpha == 0.25), "training did not move the PReLU slopes"

    path = tmp_path / "model.keras"
    model.save(path)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "expected.npy", keras.ops.convert_to_numpy(model(x)))
    np.save(tmp_path / "alpha.npy", alpha)
    env = dict(os.environ, KERAS_BACKEND=BACKEND)
    run = subprocess.run(
        [sys.executable, str(LOADER), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    np.testing.assert_array_equal(
        np.load(tmp_path / "loaded.npy"), np.load(tmp_path / "expected.npy")
    )
    np.testing.assert_array_equal(np.load(tmp_path / "loaded_alpha.npy"), alpha)


def test_plain_import_registers_strings_when_keras_is_loaded():
    code = (
        "import keras, relu_xf, numpy as np\n"
        "f = keras.activations.get('relu_xf>leaky')\n"
        "print(float(keras.ops.convert_to_numpy(f(keras.ops.convert_to_tensor(np.array([-1.0]))))[0]))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "-0.01"


def test_tensor_of_other_framework_raises():
    import torch

    other = torch.ones(2) if BACKEND != "torch" else __import__("jax").numpy.ones(2)
    with pytest.raises(TypeError, match=r"leaky_relu \(keras\): the input is a .* tensor"):
        relu_xf.get("leaky", backend="keras")(other)
    native = keras.ops.convert_to_tensor(np.ones(2, np.float32))
    assert rk.dtype_name(relu_xf.get("leaky", backend="keras")(native)) == "float32"
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(relu_xf.get("relu", backend="keras")(np.array([-1.0, 2.0]))),
        [0.0, 2.0],
    )
