"""Tests of the JAX backend: parity with the float64 reference, gradients under
every JAX transform, dtype rules, and the prelu, rrelu and crelu special cases."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

import relu_xf  # noqa: E402
import relu_xf.jax as rj  # noqa: E402
import relu_xf.numpy as rn  # noqa: E402
from relu_xf import parity  # noqa: E402
from relu_xf._variants import SELU_ALPHA, SELU_SCALE, VARIANTS  # noqa: E402

ELEMENTWISE = [v for v in VARIANTS if v.elementwise and not v.learnable and not v.random]
FLOAT32_INPUTS = np.array(
    [-np.inf, -50.0, -7.0, -3.0, -1.5, -0.25, -0.0, 0.0, 0.25, 1.0, 3.0, 6.0, 7.0, 50.0, np.inf],
    dtype=np.float32,
)


def _sum_gradient(f: Any, x: Any, *args: Any, **kwargs: Any) -> Any:
    return jax.grad(lambda x: jnp.sum(f(x, *args, **kwargs)))(x)


# Parity harness ----------------------------------------------------------------

# tests/test_parity.py runs the harness over jax; these check its wiring.


def test_parity_modes_are_eager_and_compiled() -> None:
    assert rj.PARITY_MODES == ("eager", "compiled")


def test_evaluate_restores_x64_setting() -> None:
    before = bool(jax.config.jax_enable_x64)
    variant = relu_xf.spec("elu")
    x = np.array([-1.0, 1e-300])
    y, _ = rj.evaluate("compiled", variant, variant.bind(), x, "float64")
    assert bool(jax.config.jax_enable_x64) == before
    # 1e-300 survives only if the computation ran in float64.
    assert y[1] == 1e-300
    np.testing.assert_allclose(y, rn.reference_value(variant, variant.bind(), x), rtol=1e-15)


@pytest.mark.skipif(
    os.environ.get("JAX_ENABLE_X64", "").lower() in ("1", "true"),
    reason="JAX_ENABLE_X64 is set in the environment",
)
def test_import_leaves_x64_disabled() -> None:
    assert not jax.config.jax_enable_x64


# Gradients at breakpoints ------------------------------------------------------


def _gradient_at(name: str, point: float, dtype: Any, **params: Any) -> float:
    f = relu_xf.get(name, backend="jax", **params)
    return float(_sum_gradient(f, jnp.array([point], dtype=dtype))[0])


@pytest.mark.parametrize("slope", [0.01, 0.2])
@pytest.mark.parametrize("zero", [0.0, -0.0])
def test_leaky_relu_gradient_at_zero_is_slope(slope: float, zero: float) -> None:
    assert _gradient_at("leaky_relu", zero, jnp.float32, negative_slope=slope) == np.float32(slope)


def test_leaky_relu_gradient_at_zero_float64() -> None:
    with jax.enable_x64(True):
        assert _gradient_at("leaky_relu", 0.0, jnp.float64, negative_slope=0.2) == 0.2


@pytest.mark.parametrize("zero", [0.0, -0.0])
def test_selu_gradient_at_zero_is_scale_times_alpha(zero: float) -> None:
    expected = np.float32(SELU_SCALE * SELU_ALPHA)
    assert _gradient_at("selu", zero, jnp.float32) == pytest.approx(expected, rel=2**-22)


def test_selu_gradient_at_zero_float64() -> None:
    with jax.enable_x64(True):
        gradient = _gradient_at("selu", 0.0, jnp.float64)
    assert gradient == pytest.approx(SELU_SCALE * SELU_ALPHA, rel=1e-15)


@pytest.mark.parametrize("alpha", [1.0, 0.7])
def test_elu_gradient_at_zero_is_alpha(alpha: float) -> None:
    assert _gradient_at("elu", 0.0, jnp.float32, alpha=alpha) == np.float32(alpha)


@pytest.mark.parametrize("point", [0.0, 6.0])
def test_relu6_gradient_at_breakpoints_is_zero(point: float) -> None:
    assert _gradient_at("relu6", point, jnp.float32) == 0.0


def test_relu_gradient_at_zero_is_zero() -> None:
    assert _gradient_at("relu", 0.0, jnp.float32) == 0.0


def test_relu_gradient_at_cap_is_zero() -> None:
    assert _gradient_at("relu", 6.0, jnp.float32, max_value=6.0) == 0.0


def test_native_leaky_relu_differs_at_zero() -> None:
    # Shows why the backend uses its own JVP: JAX's rule gives 1 at zero.
    native = float(jax.grad(lambda x: jax.nn.leaky_relu(x, 0.2))(jnp.float32(0.0)))
    ours = _gradient_at("leaky_relu", 0.0, jnp.float32, negative_slope=0.2)
    assert native != ours


# Transforms --------------------------------------------------------------------


@pytest.mark.parametrize("variant", ELEMENTWISE, ids=lambda v: v.name)
def test_grad_jvp_vmap_jit_agree(variant: Any) -> None:
    f = rj.bind(variant, variant.bind())
    x = jnp.asarray(FLOAT32_INPUTS)
    by_grad = np.asarray(_sum_gradient(f, x))
    by_jvp = np.asarray(jax.jvp(f, (x,), (jnp.ones_like(x),))[1])
    by_vmap = np.asarray(jax.vmap(jax.grad(f))(x))
    by_jit = np.asarray(jax.jit(lambda x: _sum_gradient(f, x))(x))
    np.testing.assert_array_equal(by_jvp, by_grad)
    np.testing.assert_array_equal(by_vmap, by_grad)
    np.testing.assert_array_equal(by_jit, by_grad)


@pytest.mark.parametrize("variant", ELEMENTWISE, ids=lambda v: v.name)
def test_gradient_matches_reference(variant: Any) -> None:
    params = variant.bind()
    f = rj.bind(variant, params)
    gradient = np.asarray(_sum_gradient(f, jnp.asarray(FLOAT32_INPUTS)))
    expected = rn.reference_gradient(variant, params, FLOAT32_INPUTS.astype(np.float64))
    np.testing.assert_allclose(gradient, expected.astype(np.float32), rtol=4e-6, atol=0)


@pytest.mark.parametrize("variant", ELEMENTWISE, ids=lambda v: v.name)
def test_vmap_and_jit_values_agree(variant: Any) -> None:
    f = rj.bind(variant, variant.bind())
    batch = jnp.asarray(np.stack([FLOAT32_INPUTS, -FLOAT32_INPUTS]))
    direct = np.asarray(f(batch))
    np.testing.assert_array_equal(np.asarray(jax.vmap(f)(batch)), direct)
    np.testing.assert_array_equal(np.asarray(jax.jit(f)(batch)), direct)


@pytest.mark.parametrize("variant", ELEMENTWISE, ids=lambda v: v.name)
def test_upstream_gradient_scales_derivative(variant: Any) -> None:
    f = rj.bind(variant, variant.bind())
    x = jnp.asarray(FLOAT32_INPUTS)
    cotangent = jnp.arange(1.0, x.size + 1.0, dtype=jnp.float32)
    _, pullback = jax.vjp(f, x)
    (weighted,) = pullback(cotangent)
    expected = np.asarray(_sum_gradient(f, x)) * np.asarray(cotangent)
    np.testing.assert_array_equal(np.asarray(weighted), expected)


# NaN and infinity --------------------------------------------------------------


@pytest.mark.parametrize("variant", ELEMENTWISE, ids=lambda v: v.name)
def test_nan_gives_nan_value_and_gradient(variant: Any) -> None:
    f = rj.bind(variant, variant.bind())
    x = jnp.array([np.nan, 1.0], dtype=jnp.float32)
    assert np.isnan(np.asarray(f(x))[0])
    assert np.isnan(np.asarray(_sum_gradient(f, x))[0])


@pytest.mark.parametrize("variant", ELEMENTWISE, ids=lambda v: v.name)
def test_infinities_give_reference_limits(variant: Any) -> None:
    params = variant.bind()
    f = rj.bind(variant, params)
    x = np.array([-np.inf, np.inf], dtype=np.float32)
    value = np.asarray(f(jnp.asarray(x)))
    gradient = np.asarray(_sum_gradient(f, jnp.asarray(x)))
    expected_value = rn.reference_value(variant, params, x.astype(np.float64))
    expected_gradient = rn.reference_gradient(variant, params, x.astype(np.float64))
    np.testing.assert_allclose(value, expected_value, rtol=1e-6)
    np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-6)
    assert not np.isnan(gradient).any()


def test_nan_through_prelu_rrelu_and_crelu() -> None:
    x = jnp.array([np.nan, -1.0], dtype=jnp.float32)
    prelu = relu_xf.get("prelu", backend="jax")
    rrelu = relu_xf.get("rrelu", backend="jax", training=True)
    crelu = relu_xf.get("crelu", backend="jax")
    weight = jnp.array([0.25], dtype=jnp.float32)
    key = jax.random.key(0)
    assert np.isnan(np.asarray(prelu(x, weight))[0])
    assert np.isnan(np.asarray(_sum_gradient(prelu, x, weight))[0])
    assert np.isnan(np.asarray(rrelu(x, key=key))[0])
    assert np.isnan(np.asarray(_sum_gradient(rrelu, x, key=key))[0])
    assert np.isnan(np.asarray(crelu(x))[[0, 2]]).all()
    assert np.isnan(np.asarray(_sum_gradient(crelu, x))[0])


# Dtypes ------------------------------------------------------------------------

PARAM_KINDS = {
    "python_float": lambda v: v,
    "numpy_float64": np.float64,
    "jax_scalar": lambda v: jnp.asarray(v, dtype=jnp.float32),
}
HALF_AND_SINGLE = [jnp.float16, jnp.bfloat16, jnp.float32]


@pytest.mark.parametrize("dtype", HALF_AND_SINGLE, ids=lambda d: jnp.dtype(d).name)
@pytest.mark.parametrize("kind", PARAM_KINDS)
@pytest.mark.parametrize(
    "name, params",
    [
        ("leaky_relu", {"negative_slope": 0.2}),
        ("elu", {"alpha": 0.5}),
        ("silu", {"beta": 2.0}),
        ("softplus", {"beta": 2.0, "threshold": 10.0}),
        ("relu", {"negative_slope": 0.1, "max_value": 4.0, "threshold": 1.0}),
    ],
)
def test_param_type_keeps_input_dtype(
    name: str, params: dict[str, float], kind: str, dtype: Any
) -> None:
    converted = {k: PARAM_KINDS[kind](v) for k, v in params.items()}
    f = relu_xf.get(name, backend="jax", **converted)
    x = jnp.asarray(FLOAT32_INPUTS).astype(dtype)
    assert f(x).dtype == jnp.dtype(dtype)
    assert _sum_gradient(f, x).dtype == jnp.dtype(dtype)


@pytest.mark.parametrize("kind", PARAM_KINDS)
def test_param_type_keeps_float64(kind: str) -> None:
    with jax.enable_x64(True):
        slope = PARAM_KINDS[kind](0.2)
        f = relu_xf.get("leaky_relu", backend="jax", negative_slope=slope)
        x = jnp.asarray([-1.0, 2.0], dtype=jnp.float64)
        assert f(x).dtype == jnp.float64
        # A float32 JAX scalar is 0.2 rounded to float32, and the function uses that value.
        assert float(f(x)[0]) == -float(slope)


@pytest.mark.parametrize("dtype", HALF_AND_SINGLE, ids=lambda d: jnp.dtype(d).name)
def test_crelu_prelu_rrelu_keep_dtype(dtype: Any) -> None:
    x = jnp.asarray(FLOAT32_INPUTS).astype(dtype)
    weight = jnp.array([0.25], dtype=jnp.float32)
    assert relu_xf.get("crelu", backend="jax")(x).dtype == jnp.dtype(dtype)
    assert relu_xf.get("prelu", backend="jax")(x, weight).dtype == jnp.dtype(dtype)
    training = relu_xf.get("rrelu", backend="jax", training=True)
    assert training(x, key=jax.random.key(1)).dtype == jnp.dtype(dtype)


def test_half_input_rounds_float32_result_once() -> None:
    variant = relu_xf.spec("gelu")
    x16 = jnp.asarray(np.linspace(-4, 4, 257), dtype=jnp.float16)
    single = rj.bind(variant, variant.bind())(x16.astype(jnp.float32))
    np.testing.assert_array_equal(np.asarray(rj.gelu(x16)), np.asarray(single.astype(jnp.float16)))


@pytest.mark.parametrize("dtype", [jnp.int32, jnp.int8, jnp.bool_, jnp.complex64, jnp.uint8])
def test_non_float_input_raises_type_error(dtype: Any) -> None:
    x = jnp.zeros(3, dtype=dtype)
    with pytest.raises(TypeError, match="float16, bfloat16, float32, float64"):
        rj.relu(x)


def test_integer_input_raises_under_outer_jit() -> None:
    f = jax.jit(lambda x: rj.elu(x) * 2)
    with pytest.raises(TypeError, match="int32 is not supported"):
        f(jnp.arange(3, dtype=jnp.int32))


def test_integer_input_raises_for_prelu_and_crelu() -> None:
    x = jnp.arange(4, dtype=jnp.int32)
    with pytest.raises(TypeError):
        rj.prelu(x, jnp.array([0.25]))
    with pytest.raises(TypeError):
        rj.crelu(x)


# Public functions --------------------------------------------------------------


def test_public_function_takes_params() -> None:
    x = jnp.array([-2.0, 3.0], dtype=jnp.float32)
    np.testing.assert_array_equal(
        np.asarray(rj.leaky_relu(x, negative_slope=0.2)), np.array([-0.4, 3.0], dtype=np.float32)
    )
    assert rj.leaky_relu.__module__ == "relu_xf.jax"


def test_every_variant_has_public_function() -> None:
    for variant in VARIANTS:
        assert callable(getattr(rj, variant.name))
        assert variant.name in rj.__all__


def test_public_function_rejects_bad_param() -> None:
    with pytest.raises(ValueError, match="alpha"):
        rj.celu(jnp.ones(2), alpha=0.0)


def test_ops_object_implements_vocabulary() -> None:
    ops = rj.JaxOps()
    x = jnp.array([-1.0, 0.0, 2.0], dtype=jnp.float32)
    expected_erfc = [math.erfc(v) for v in np.asarray(x).tolist()]
    np.testing.assert_allclose(np.asarray(ops.erfc(x)), expected_erfc, rtol=1e-6)
    np.testing.assert_allclose(
        np.asarray(ops.sigmoid(x)), 1 / (1 + np.exp(-np.asarray(x))), rtol=1e-6
    )
    assert np.asarray(ops.isneginf(jnp.array([-np.inf, np.inf]))).tolist() == [True, False]
    assert ops.concatenate([x, x], axis=0).shape == (6,)
    assert np.asarray(ops.where(x > 0, 1.0, x)).tolist() == [-1.0, 0.0, 1.0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_ops_expm1_within_two_ulps(dtype: str) -> None:
    rng = np.random.default_rng(5)
    x = np.concatenate([-(10 ** rng.uniform(-9, 1.5, 20_000)), rng.uniform(-1, 1, 20_000)])
    x = x.astype(dtype)
    with jax.enable_x64(dtype == "float64"):
        actual = np.asarray(jax.jit(rj.OPS.expm1)(jnp.asarray(x)), dtype=np.float64)
    expected = parity.round_to_dtype(np.expm1(x.astype(np.float64)), dtype)
    errors = parity.ulp_error(actual, expected, np.abs(expected), dtype)
    worst = int(np.argmax(errors))
    assert errors.max() <= 2, f"{errors.max()} ULPs at x={x[worst]!r}"


def test_ops_expm1_special_values() -> None:
    x = np.array([0.0, -0.0, -1e-30, 1e-30, -np.inf, np.inf, 100.0, -200.0, np.nan], np.float32)
    actual = np.asarray(jax.jit(rj.OPS.expm1)(jnp.asarray(x)))
    with np.errstate(over="ignore"):
        expected = np.expm1(x)
    np.testing.assert_array_equal(actual, expected)
    assert np.signbit(actual[1])


# prelu -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, weight, channel_axis",
    [((2, 3, 4), [0.1, 0.25, -0.5], 1), ((5, 3), [0.3], 1), ((4, 2), [0.2, 0.7], -1)],
)
def test_prelu_gradients_match_reference(
    shape: tuple[int, ...], weight: list[float], channel_axis: int
) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype(np.float32)
    x.flat[0] = 0.0
    w = np.array(weight, dtype=np.float32)
    variant = relu_xf.spec("prelu")
    reference: Any = rn.bind(variant, variant.bind(channel_axis=channel_axis))
    f = relu_xf.get("prelu", backend="jax", channel_axis=channel_axis)
    gx, gw = jax.grad(lambda x, w: jnp.sum(f(x, w)), argnums=(0, 1))(jnp.asarray(x), jnp.asarray(w))
    np.testing.assert_array_equal(np.asarray(f(jnp.asarray(x), jnp.asarray(w))), reference(x, w))
    np.testing.assert_array_equal(np.asarray(gx), reference.gradient(x, w))
    np.testing.assert_allclose(np.asarray(gw), reference.weight_gradient(x, w), rtol=1e-6)
    assert gw.shape == w.shape


def test_prelu_x_gradient_at_negative_infinity() -> None:
    # The weight's partial derivative there is x = -inf, which must not reach dL/dx.
    x = jnp.array([-np.inf, -1.0], dtype=jnp.float32)
    w = jnp.array([0.25], dtype=jnp.float32)
    variant = relu_xf.spec("prelu")
    reference: Any = rn.bind(variant, variant.bind())
    expected = reference.gradient(np.asarray(x), np.asarray(w))
    by_grad = np.asarray(_sum_gradient(rj.prelu, x, w))
    by_jvp = np.asarray(jax.jvp(lambda x: rj.prelu(x, w), (x,), (jnp.ones_like(x),))[1])
    gx, gw = jax.grad(lambda x, w: jnp.sum(rj.prelu(x, w)), argnums=(0, 1))(x, w)
    np.testing.assert_array_equal(by_grad, expected)
    np.testing.assert_array_equal(by_jvp, expected)
    np.testing.assert_array_equal(np.asarray(gx), expected)
    np.testing.assert_array_equal(
        np.asarray(gw), reference.weight_gradient(np.asarray(x), np.asarray(w))
    )


def test_prelu_wrong_weight_size_raises() -> None:
    with pytest.raises(ValueError, match="slopes"):
        rj.prelu(jnp.ones((2, 3)), jnp.array([0.1, 0.2]))


# rrelu -------------------------------------------------------------------------


def test_rrelu_training_without_key_raises() -> None:
    f = relu_xf.get("rrelu", backend="jax", training=True)
    with pytest.raises(TypeError, match="key"):
        f(jnp.ones(3))


def test_rrelu_eval_uses_mean_slope() -> None:
    f = relu_xf.get("rrelu", backend="jax", lower=0.1, upper=0.3)
    x = jnp.array([-2.0, 0.0, 3.0], dtype=jnp.float32)
    np.testing.assert_allclose(np.asarray(f(x)), [-0.4, 0.0, 3.0], rtol=1e-7)
    np.testing.assert_allclose(np.asarray(_sum_gradient(f, x)), [0.2, 0.2, 1.0], rtol=1e-7)


def test_rrelu_training_statistics() -> None:
    lower, upper, n = 0.1, 0.4, 200_000
    f = relu_xf.get("rrelu", backend="jax", lower=lower, upper=upper, training=True)
    x = -jnp.ones(n, dtype=jnp.float32)
    slopes = -np.asarray(f(x, key=jax.random.key(7)), dtype=np.float64)
    assert slopes.min() >= lower
    assert slopes.max() <= upper
    mean, variance = (lower + upper) / 2, (upper - lower) ** 2 / 12
    # Five standard errors of the sample mean and of the sample variance.
    assert abs(slopes.mean() - mean) < 5 * np.sqrt(variance / n)
    assert abs(slopes.var() - variance) < 5 * np.sqrt(variance**2 * 0.8 / n)
    assert np.unique(slopes).size > n // 2


def test_rrelu_training_gradient_uses_same_draw() -> None:
    f = relu_xf.get("rrelu", backend="jax", training=True)
    x = jnp.asarray(np.linspace(-3.0, 3.0, 101), dtype=jnp.float32)
    key = jax.random.key(3)
    y = np.asarray(f(x, key=key))
    gradient = np.asarray(_sum_gradient(f, x, key=key))
    negative = np.asarray(x) < 0
    np.testing.assert_allclose(gradient[negative], y[negative] / np.asarray(x)[negative], rtol=1e-6)
    np.testing.assert_array_equal(gradient[np.asarray(x) > 0], 1.0)


def test_rrelu_training_draws_depend_on_key() -> None:
    f = relu_xf.get("rrelu", backend="jax", training=True)
    x = -jnp.ones(64)
    np.testing.assert_array_equal(f(x, key=jax.random.key(1)), f(x, key=jax.random.key(1)))
    assert not np.array_equal(f(x, key=jax.random.key(1)), f(x, key=jax.random.key(2)))
    np.testing.assert_array_equal(f(x, key=jax.random.PRNGKey(1)), f(x, key=jax.random.PRNGKey(1)))


# crelu -------------------------------------------------------------------------


@pytest.mark.parametrize("axis", [2, -3])
def test_crelu_axis_out_of_range_raises(axis: int) -> None:
    with pytest.raises(ValueError, match="axis"):
        rj.crelu(jnp.ones((2, 3)), axis=axis)


def test_crelu_scalar_raises() -> None:
    with pytest.raises(ValueError, match="at least one dimension"):
        rj.crelu(jnp.float32(1.0))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_crelu_upstream_gradient(axis: int) -> None:
    x = jnp.array([[1.0, -2.0, 0.0], [-0.5, 3.0, -0.0]], dtype=jnp.float32)
    y, pullback = jax.vjp(lambda x: rj.crelu(x, axis=axis), x)
    cotangent = jnp.arange(1.0, y.size + 1.0).reshape(y.shape)
    (gradient,) = pullback(cotangent)
    first, second = np.split(np.asarray(cotangent), 2, axis=axis)
    xs = np.asarray(x)
    expected = np.where(xs > 0, first, 0.0) - np.where(xs < 0, second, 0.0)
    assert y.shape[axis % 2] == 2 * x.shape[axis % 2]
    np.testing.assert_array_equal(np.asarray(gradient), expected)
