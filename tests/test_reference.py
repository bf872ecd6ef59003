"""The NumPy float64 reference, checked against independent computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from relu_xf import numpy as reference
from relu_xf._variants import SELU_ALPHA, SELU_SCALE, VARIANTS
from relu_xf.parity import param_cases

scipy_special = pytest.importorskip("scipy.special")

# Formulas written independently of the spec, with the math module, for the
# small vector [-1, 0, 1] and a few more points.
POINTS = [-3.5, -1.0, -0.25, 0.0, 0.5, 1.0, 2.5, 7.0]


def _phi(x):
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


INDEPENDENT = {
    "relu": lambda x: max(x, 0.0),
    "leaky_relu": lambda x: x if x > 0 else 0.01 * x,
    "elu": lambda x: x if x > 0 else math.expm1(x),
    "selu": lambda x: SELU_SCALE * (x if x > 0 else SELU_ALPHA * math.expm1(x)),
    "celu": lambda x: x if x > 0 else math.expm1(x),
    "relu6": lambda x: min(max(x, 0.0), 6.0),
    "thresholded_relu": lambda x: x if x > 1.0 else 0.0,
    "squared_relu": lambda x: max(x, 0.0) ** 2,
    "gelu": lambda x: x * _phi(x),
    "silu": lambda x: x / (1.0 + math.exp(-x)),
    "mish": lambda x: x * math.tanh(math.log1p(math.exp(x))),
    "softplus": lambda x: math.log1p(math.exp(x)),
    "hard_sigmoid": lambda x: min(max(x + 3.0, 0.0), 6.0) / 6.0,
    "hard_swish": lambda x: x * min(max(x + 3.0, 0.0), 6.0) / 6.0,
    "rrelu": lambda x: x if x > 0 else x * (1 / 8 + 1 / 3) / 2,
}


@pytest.mark.parametrize("name", sorted(INDEPENDENT))
def test_reference_matches_independent_formula(name):
    x = np.array(POINTS)
    expected = np.array([INDEPENDENT[name](v) for v in POINTS])
    np.testing.assert_allclose(getattr(reference, name)(x), expected, rtol=1e-14, atol=1e-300)


def test_gelu_tanh_matches_textbook_form():
    x = np.linspace(-8, 8, 161)
    inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
    expected = 0.5 * x * (1 + np.tanh(inner))
    np.testing.assert_allclose(
        reference.gelu(x, approximate="tanh"), expected, rtol=1e-12, atol=1e-15
    )


def test_gelu_negative_tail_is_accurate():
    x = np.array([-10.0, -20.0, -30.0])
    expected = x * scipy_special.ndtr(x)
    np.testing.assert_allclose(reference.gelu(x), expected, rtol=1e-13)


def _smooth_points(variant, params):
    rng = np.random.default_rng(7)
    x = rng.uniform(-6, 6, size=200)
    points = np.array(variant.breakpoints(params), dtype=float)
    if points.size:
        near = np.min(np.abs(x[:, None] - points[None, :]), axis=1)
        x = x[near > 1e-3]
    return x


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v.elementwise], ids=lambda v: v.name)
def test_derivative_matches_finite_difference(variant):
    for overrides in param_cases(variant):
        params = variant.bind(**overrides)
        x = _smooth_points(variant, params)
        extra = (np.array([0.25]),) if variant.learnable else ()
        h = 1e-6
        forward = reference.reference_value
        numeric = (
            forward(variant, params, x + h, *extra) - forward(variant, params, x - h, *extra)
        ) / (2 * h)
        analytic = reference.reference_gradient(variant, params, x, *extra)
        np.testing.assert_allclose(
            analytic, numeric, rtol=1e-6, atol=1e-7, err_msg=f"{variant.name} {overrides}"
        )


def test_crelu_gradient_is_difference_of_halves():
    x = np.array([-2.0, -0.0, 0.0, 3.0, np.nan])
    from relu_xf import get

    f = get("crelu", backend="numpy")
    np.testing.assert_array_equal(f.gradient(x)[:4], [-1.0, 0.0, 0.0, 1.0])
    assert np.isnan(f.gradient(x)[4])


@pytest.mark.parametrize(
    ("name", "params", "x", "expected"),
    [
        ("relu", {}, 0.0, 0.0),
        ("leaky_relu", {"negative_slope": 0.2}, 0.0, 0.2),
        ("relu6", {}, 0.0, 0.0),
        ("relu6", {}, 6.0, 0.0),
        ("elu", {"alpha": 0.5}, 0.0, 0.5),
        ("selu", {}, 0.0, SELU_SCALE * SELU_ALPHA),
        ("celu", {"alpha": 2.0}, 0.0, 1.0),
        ("thresholded_relu", {}, 1.0, 0.0),
        ("hard_sigmoid", {}, -3.0, 0.0),
        ("hard_sigmoid", {}, 3.0, 0.0),
        ("hard_swish", {}, -3.0, 0.0),
        ("hard_swish", {}, 3.0, 1.5),
        ("relu", {"max_value": 4.0}, 4.0, 0.0),
        ("squared_relu", {}, 0.0, 0.0),
    ],
)
def test_gradient_at_breakpoint(name, params, x, expected):
    from relu_xf import get

    f = get(name, backend="numpy", **params)
    assert f.gradient(np.array([x]))[0] == expected


@pytest.mark.parametrize(
    ("name", "x", "value", "gradient"),
    [
        ("gelu", -np.inf, 0.0, 0.0),
        ("gelu", np.inf, np.inf, 1.0),
        ("silu", -np.inf, 0.0, 0.0),
        ("silu", np.inf, np.inf, 1.0),
        ("mish", -np.inf, 0.0, 0.0),
        ("mish", np.inf, np.inf, 1.0),
        ("elu", -np.inf, -1.0, 0.0),
        ("softplus", -np.inf, 0.0, 0.0),
        ("hard_swish", -np.inf, 0.0, 0.0),
        ("relu", -np.inf, 0.0, 0.0),
        ("leaky_relu", -np.inf, -np.inf, 0.01),
    ],
)
def test_infinite_input_gives_limit(name, x, value, gradient):
    from relu_xf import get

    f = get(name, backend="numpy")
    assert f(np.array([x]))[0] == value
    assert f.gradient(np.array([x]))[0] == gradient


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_nan_gives_nan_value_and_gradient(variant):
    from relu_xf import get

    f = get(variant.name, backend="numpy")
    x = np.array([np.nan, 1.0])
    args = (np.array([0.25]),) if variant.learnable else ()
    assert np.isnan(f(x, *args)[0])
    assert np.isnan(f.gradient(x, *args)[0])


def test_prelu_weight_gradient_sums_over_channels():
    from relu_xf import get

    f = get("prelu", backend="numpy")
    x = np.array([[-1.0, 2.0], [-3.0, -4.0]])
    np.testing.assert_array_equal(f.weight_gradient(x, np.array([0.1, 0.2])), [-4.0, -4.0])
    np.testing.assert_array_equal(f.weight_gradient(x, np.array([0.1])), [-8.0])


def test_prelu_weight_shape_mismatch_raises():
    from relu_xf import get

    with pytest.raises(
        ValueError, match=r"weight has 3 slopes but the input has 2 channels along channel_axis=1"
    ):
        get("prelu", backend="numpy")(np.ones((4, 2)), np.ones(3))


def test_crelu_axis_out_of_range_raises():
    from relu_xf import get

    with pytest.raises(
        ValueError, match=r"crelu: axis=2 is out of range for an input with 2 dimensions"
    ):
        get("crelu", backend="numpy", axis=2)(np.ones((2, 2)))


def test_rrelu_training_draws_slopes_in_range():
    from relu_xf import get

    f = get("rrelu", backend="numpy", training=True)
    x = -np.ones(10000)
    y = f(x, rng=np.random.default_rng(0))
    assert np.all(y <= -1 / 8)
    assert np.all(y >= -1 / 3)
    assert abs(y.mean() + (1 / 8 + 1 / 3) / 2) < 0.01
