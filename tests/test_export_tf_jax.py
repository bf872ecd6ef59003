"""TensorFlow SavedModel and jax.export round trips keep values and gradients."""

import numpy as np
import pytest

import relu_xf

SPECIAL = np.array(
    [-np.inf, -50.0, -3.0, -1e-30, -0.0, 0.0, 1e-30, 0.5, 3.0, 6.0, 45.0, np.inf, np.nan]
)
CASES = [
    ("relu", {}),
    ("relu", {"negative_slope": 0.1, "max_value": 4.0, "threshold": 0.5}),
    ("leaky_relu", {"negative_slope": 0.2}),
    ("elu", {"alpha": 0.5}),
    ("selu", {}),
    ("celu", {"alpha": 2.0}),
    ("gelu", {}),
    ("gelu", {"approximate": "tanh"}),
    ("silu", {"beta": 1.7}),
    ("mish", {}),
    ("softplus", {"beta": 2.0}),
    ("hard_swish", {}),
    ("crelu", {"axis": 0}),
]
IDS = [f"{n}-{p}" for n, p in CASES]


def _same(actual, expected):
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    assert actual.tobytes() == expected.tobytes()


@pytest.mark.parametrize("name, params", CASES, ids=IDS)
def test_tf_saved_model_round_trip(name, params, tmp_path):
    tf = pytest.importorskip("tensorflow")
    function = relu_xf.get(name, backend="tf", **params)

    class Model(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def value_and_gradient(self, x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = function(x)
            return y, tape.gradient(y, x)

    model = Model()
    x = tf.constant(SPECIAL.astype(np.float32))
    y, g = model.value_and_gradient(x)
    tf.saved_model.save(model, str(tmp_path))
    loaded = tf.saved_model.load(str(tmp_path))
    y2, g2 = loaded.value_and_gradient(x)
    _same(y2.numpy(), y.numpy())
    _same(g2.numpy(), g.numpy())


def test_tf_saved_model_prelu_keeps_variable(tmp_path):
    tf = pytest.importorskip("tensorflow")
    prelu = relu_xf.get("prelu", backend="tf")

    class Model(tf.Module):
        def __init__(self):
            self.weight = tf.Variable([0.1, -0.7, 2.5])

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
        def __call__(self, x):
            return prelu(x, self.weight)

    model = Model()
    x = tf.constant(np.outer(SPECIAL[:-2], [1.0, -0.5, 2.0]).astype(np.float32))
    tf.saved_model.save(model, str(tmp_path))
    loaded = tf.saved_model.load(str(tmp_path))
    _same(loaded(x).numpy(), model(x).numpy())
    _same(loaded.weight.numpy(), model.weight.numpy())


@pytest.mark.parametrize("name, params", CASES, ids=IDS)
def test_jax_export_round_trip(name, params):
    jax = pytest.importorskip("jax")
    from jax import export

    function = relu_xf.get(name, backend="jax", **params)

    def value_and_gradient(x):
        return function(x), jax.grad(lambda t: function(t).sum())(x)

    x = jax.numpy.asarray(SPECIAL.astype(np.float32))
    exported = export.export(jax.jit(value_and_gradient))(x)
    restored = export.deserialize(exported.serialize())
    y, g = value_and_gradient(x)
    y2, g2 = restored.call(x)
    _same(y2, y)
    _same(g2, g)


def test_jax_export_keeps_custom_jvp_after_reload():
    jax = pytest.importorskip("jax")
    from jax import export

    function = relu_xf.get("elu", backend="jax", alpha=0.5)
    x = jax.numpy.asarray(np.array([0.0, -1.0, 2.0], np.float32))
    exported = export.export(jax.jit(function))(x)
    restored = export.deserialize(exported.serialize(vjp_order=1))
    gradient = jax.grad(lambda t: restored.call(t).sum())(x)
    # The contract's derivative at 0 is alpha: the identity branch is open.
    assert float(gradient[0]) == 0.5
    _same(gradient, jax.grad(lambda t: function(t).sum())(x))


def test_jax_bound_function_keeps_jit_methods():
    jax = pytest.importorskip("jax")
    function = relu_xf.get("gelu", backend="jax")
    x = jax.numpy.ones(3)
    assert function.lower(x).compile()(x).shape == (3,)
    assert function.eval_shape(x).shape == (3,)
