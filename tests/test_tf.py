"""Tests of the TensorFlow backend against the float64 NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import relu_xf  # noqa: E402
import relu_xf.tf as tf_backend  # noqa: E402
from relu_xf._variants import SELU_ALPHA, SELU_SCALE, VARIANTS  # noqa: E402
from relu_xf.numpy import bind as numpy_bind  # noqa: E402
from relu_xf.parity import DTYPES  # noqa: E402


def test_subnormal_input_acts_as_zero():
    # Why the parity harness accepts the result at a flushed subnormal input:
    # relu'(0) = 0, and TensorFlow compares the smallest float32 subnormal as equal to 0.
    relu = relu_xf.get("relu", backend="tf")
    x = tf.constant([np.float32(2.0**-149)])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = relu(x)
    assert tape.gradient(y, x).numpy()[0] == 0.0


def _value_and_gradient(function, x, compiled=False):
    def run(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = function(x)
        return y, tape.gradient(y, x)

    if compiled:
        run = tf.function(run, jit_compile=True)
    y, g = run(x)
    return y.numpy(), g.numpy()


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize(
    "name, params, x, expected",
    [
        ("leaky_relu", {"negative_slope": 0.2}, 0.0, 0.2),
        ("leaky_relu", {}, 0.0, 0.01),
        ("selu", {}, 0.0, SELU_SCALE * SELU_ALPHA),
        ("elu", {"alpha": 0.5}, 0.0, 0.5),
        ("elu", {}, 0.0, 1.0),
        ("relu6", {}, 0.0, 0.0),
        ("relu6", {}, 6.0, 0.0),
        ("relu", {}, 0.0, 0.0),
        ("celu", {"alpha": 2.0}, 0.0, 1.0),
        ("hard_swish", {}, -3.0, 0.0),
    ],
)
def test_gradient_at_breakpoint(name, params, x, expected, compiled):
    function = relu_xf.get(name, backend="tf", **params)
    _, g = _value_and_gradient(function, tf.constant([x], tf.float64), compiled)
    assert g[0] == pytest.approx(expected, rel=1e-15)


ELEMENTWISE = [v.name for v in VARIANTS if v.elementwise and not v.learnable]


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_nan_gives_nan_value_and_gradient(name, compiled):
    function = relu_xf.get(name, backend="tf")
    y, g = _value_and_gradient(function, tf.constant([np.nan, 1.0], tf.float32), compiled)
    assert np.isnan(y[0])
    assert np.isnan(g[0])
    assert not np.isnan(y[1])


def test_prelu_nan_gives_nan_value_and_gradient():
    prelu = relu_xf.get("prelu", backend="tf")
    x = tf.constant([[np.nan, -1.0]], tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = prelu(x, tf.constant([0.25]))
    assert np.isnan(y.numpy()[0, 0])
    assert np.isnan(tape.gradient(y, x).numpy()[0, 0])


@pytest.mark.parametrize("name", [v.name for v in VARIANTS if not v.learnable])
def test_jit_compile_matches_eager(name):
    function = relu_xf.get(name, backend="tf")
    x = tf.constant(np.linspace(-8.0, 8.0, 41).reshape(1, 41), tf.float32)
    y_eager, g_eager = _value_and_gradient(function, x)
    y_xla, g_xla = _value_and_gradient(function, x, compiled=True)
    assert y_xla.dtype == y_eager.dtype
    np.testing.assert_allclose(y_xla, y_eager, rtol=4e-7, atol=1e-7)
    np.testing.assert_allclose(g_xla, g_eager, rtol=4e-7, atol=1e-7)


def test_bound_function_traced_once():
    elu = relu_xf.get("elu", backend="tf", alpha=0.5)
    compiled = tf.function(elu, jit_compile=True)
    for value in (-1.0, 0.0, 2.0, 3.5):
        compiled(tf.constant([value, -value]))
    assert compiled.experimental_get_tracing_count() == 1


def test_several_bound_functions_in_one_trace():
    functions = [relu_xf.get("leaky_relu", backend="tf", negative_slope=s) for s in (0.1, 0.2, 0.3)]

    @tf.function
    def apply_all(x):
        return [f(x) for f in functions]

    for value in (-1.0, -2.0, 4.0):
        outputs = apply_all(tf.constant([value]))
        expected = [value * s if value <= 0 else value for s in (0.1, 0.2, 0.3)]
        np.testing.assert_allclose([o.numpy()[0] for o in outputs], expected, rtol=1e-6)
    assert apply_all.experimental_get_tracing_count() == 1


def test_public_function_in_tf_function_traced_once():
    @tf.function
    def step(x):
        return tf_backend.leaky_relu(x, negative_slope=0.2)

    for value in (-1.0, 3.0, -5.0):
        assert step(tf.constant([value])).numpy()[0] == pytest.approx(
            value * 0.2 if value < 0 else value
        )
    assert step.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "slope", [0.2, np.float64(0.2), np.array(0.2)], ids=["float", "np.float64", "0-d array"]
)
def test_dtype_preserved_with_numpy_params(dtype, slope):
    x = tf.cast(tf.constant([-1.0, 2.0]), dtype)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf_backend.leaky_relu(x, negative_slope=slope)
    assert y.dtype == x.dtype
    assert tape.gradient(y, x).dtype == x.dtype
    assert relu_xf.get("elu", backend="tf", alpha=slope)(x).dtype == x.dtype


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", [v.name for v in VARIANTS if not v.learnable])
def test_output_dtype_equals_input(name, dtype):
    x = tf.cast(tf.constant([[-1.0, 0.5, 3.0]]), dtype)
    assert relu_xf.get(name, backend="tf")(x).dtype == x.dtype


@pytest.mark.parametrize(
    "x",
    [
        tf.constant([1, -2]),
        tf.constant([1, -2], tf.int64),
        tf.constant([True]),
        tf.constant([1 + 2j]),
    ],
    ids=["int32", "int64", "bool", "complex128"],
)
@pytest.mark.parametrize("name", ["relu", "gelu", "crelu"])
def test_non_float_input_raises_type_error(name, x):
    with pytest.raises(TypeError, match="not supported"):
        relu_xf.get(name, backend="tf")(x)


def test_prelu_integer_input_raises_type_error():
    with pytest.raises(TypeError, match="not supported"):
        relu_xf.get("prelu", backend="tf")(tf.constant([[1, 2]]), tf.constant([0.25]))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "weight, channel_axis",
    [(np.array([0.25]), 1), (np.array([0.1, -0.5, 2.0]), 1), (np.array([0.3, 0.7, 0.2, 0.9]), -1)],
    ids=["shared", "per-channel", "channels-last"],
)
def test_prelu_weight_gradient(weight, channel_axis, dtype):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2, 3, 4)).astype(dtype)
    x[0, 0, 0] = 0.0
    reference = numpy_bind(
        relu_xf.spec("prelu"), relu_xf.spec("prelu").bind(channel_axis=channel_axis)
    )
    prelu = relu_xf.get("prelu", backend="tf", channel_axis=channel_axis)
    xt = tf.constant(x)
    wt = tf.Variable(weight.astype(dtype))
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = prelu(xt, wt)
    grad_x, grad_w = tape.gradient(y, [xt, wt])
    np.testing.assert_allclose(y.numpy(), reference(x, weight.astype(dtype)), rtol=1e-6)
    np.testing.assert_allclose(
        grad_x.numpy(), reference.gradient(x, weight.astype(dtype)), rtol=1e-6
    )
    expected_w = reference.weight_gradient(x, weight.astype(dtype))
    assert grad_w.shape == weight.shape
    np.testing.assert_allclose(grad_w.numpy(), expected_w, rtol=1e-5)


def test_prelu_weight_size_mismatch_raises():
    prelu = relu_xf.get("prelu", backend="tf")
    with pytest.raises(ValueError, match="slopes but the input has"):
        prelu(tf.zeros((2, 3)), tf.constant([0.1, 0.2]))


def test_prelu_under_jit_compile():
    prelu = relu_xf.get("prelu", backend="tf")
    weight = tf.constant([0.1, 0.2, 0.3])

    @tf.function(jit_compile=True)
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch([x, weight])
            y = prelu(x, weight)
        return tape.gradient(y, [x, weight])

    grad_x, grad_w = step(tf.constant([[-1.0, 2.0, -3.0]]))
    np.testing.assert_allclose(grad_x.numpy(), [[0.1, 1.0, 0.3]], rtol=1e-6)
    np.testing.assert_allclose(grad_w.numpy(), [-1.0, 0.0, -3.0], rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16"])
@pytest.mark.parametrize("seed", [None, 11, (3, 4)], ids=["global", "int", "pair"])
def test_rrelu_training_slopes(seed, dtype):
    lower, upper = 0.1, 0.3
    rrelu = relu_xf.get("rrelu", backend="tf", lower=lower, upper=upper, training=True)
    x = tf.cast(tf.constant(-np.linspace(0.5, 4.0, 4000)), dtype)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = rrelu(x, seed=seed)
    g = tape.gradient(y, x)
    assert y.dtype == x.dtype
    x64 = x.numpy().astype(np.float64)
    y64 = y.numpy().astype(np.float64)
    g64 = g.numpy().astype(np.float64)
    assert np.all(y64 >= upper * x64 * (1 + 1e-2 if dtype == "bfloat16" else 1 + 1e-7))
    assert np.all(y64 <= lower * x64 * (1 - 1e-2 if dtype == "bfloat16" else 1 - 1e-7))
    assert np.all((g64 >= lower * 0.99) & (g64 <= upper * 1.01))
    tolerance = 1e-2 if dtype == "bfloat16" else 1e-6
    np.testing.assert_allclose(y64 / x64, g64, rtol=tolerance)
    assert np.std(g64) > 0.03
    assert np.mean(g64) == pytest.approx((lower + upper) / 2, abs=0.01)


def test_rrelu_positive_inputs_pass_through():
    rrelu = relu_xf.get("rrelu", backend="tf", training=True)
    x = tf.constant([0.5, 2.0, 7.0])
    np.testing.assert_array_equal(rrelu(x, seed=1).numpy(), x.numpy())


def test_rrelu_seed_reproducible():
    rrelu = relu_xf.get("rrelu", backend="tf", training=True)
    x = -tf.ones((64,))
    first = rrelu(x, seed=5).numpy()
    np.testing.assert_array_equal(rrelu(x, seed=5).numpy(), first)
    assert not np.array_equal(rrelu(x, seed=6).numpy(), first)


def test_rrelu_generator_and_jit_compile():
    rrelu = relu_xf.get("rrelu", backend="tf", training=True)
    generator = tf.random.Generator.from_seed(1)

    @tf.function(jit_compile=True)
    def step(x, seed):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = rrelu(x, seed=seed)
        return y, tape.gradient(y, x)

    x = -tf.ones((32,))
    y, g = step(x, tf.constant([1, 2]))
    np.testing.assert_allclose(-y.numpy(), g.numpy(), rtol=1e-6)
    assert rrelu(x, seed=generator).shape == x.shape


def test_rrelu_invalid_seed_raises():
    rrelu = relu_xf.get("rrelu", backend="tf", training=True)
    with pytest.raises(ValueError, match="seed"):
        rrelu(tf.constant([-1.0]), seed=(1, 2, 3))


def test_rrelu_evaluation_uses_mean_slope():
    rrelu = relu_xf.get("rrelu", backend="tf", lower=0.1, upper=0.3)
    assert rrelu(tf.constant([-2.0], tf.float64)).numpy()[0] == pytest.approx(-0.4)


@pytest.mark.parametrize("axis", [2, -3])
def test_crelu_axis_out_of_range_raises(axis):
    crelu = relu_xf.get("crelu", backend="tf", axis=axis)
    with pytest.raises(ValueError, match="out of range"):
        crelu(tf.zeros((2, 3)))


def test_crelu_scalar_raises():
    with pytest.raises(ValueError, match="at least one dimension"):
        relu_xf.get("crelu", backend="tf")(tf.constant(1.0))


def test_crelu_upstream_gradient_per_half():
    crelu = relu_xf.get("crelu", backend="tf", axis=0)
    x = tf.constant([2.0, -3.0, 0.0])
    upstream = tf.constant([1.0, 2.0, 3.0, 10.0, 20.0, 30.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = crelu(x)
    np.testing.assert_array_equal(y.numpy(), [2.0, 0.0, 0.0, 0.0, 3.0, 0.0])
    np.testing.assert_array_equal(
        tape.gradient(y, x, output_gradients=upstream).numpy(), [1.0, -20.0, 0.0]
    )


def test_public_functions_exist_for_every_variant():
    for variant in VARIANTS:
        function = getattr(tf_backend, variant.name)
        assert function.__module__ == "relu_xf.tf"
        assert function.__name__ == variant.name


def test_invalid_parameter_raises_before_tensor_work():
    with pytest.raises(ValueError, match="out of range"):
        tf_backend.elu(tf.constant([1.0]), alpha=-1.0)
