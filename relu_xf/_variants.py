"""Every ReLU-family variant, defined once.

Each entry gives the formula as cases with explicit conditions, and a
``forward`` and ``derivative`` written over the vocabulary in ``_ops.py``.
The conditions follow one rule at every breakpoint: the identity branch is
open and every other branch is closed. So relu'(0) = 0, leaky_relu'(0) =
negative_slope, relu6'(0) = relu6'(6) = 0, elu'(0) = alpha and
selu'(0) = scale * alpha. A NaN input gives a NaN value and a NaN gradient.
"""

from __future__ import annotations

from typing import Any

from ._ops import INV_SQRT_2PI, SQRT1_2, SQRT_2_OVER_PI, Ops, propagate_nan
from ._spec import BoundParams, Case, Param, Variant

# SELU constants from Klambauer et al. (2017), to 32 significant digits.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

# Beyond this magnitude every exp(-x**2 / 2) and sigmoid(-|x|) factor underflows to
# zero in float64, so clipping the input there keeps 0 * inf out of derivatives.
_TAIL = 40.0
_LOGISTIC_TAIL = 800.0

_GELU_TANH_COEFF = 0.044715


def _no_breakpoints(p: BoundParams) -> tuple[float, ...]:
    return ()


def _zero(p: BoundParams) -> tuple[float, ...]:
    return (0.0,)


def _clip(ops: Ops, x: Any, limit: float) -> Any:
    return ops.minimum(ops.maximum(x, -limit), limit)


def _relu_part(ops: Ops, x: Any) -> Any:
    return ops.where(x <= 0, 0.0, x)


# relu ------------------------------------------------------------------------


def _relu_forward(ops: Ops, x: Any, p: BoundParams) -> Any:
    if p.negative_slope == 0:
        lower: Any = 0.0
    elif p.threshold == 0:
        lower = x * p.negative_slope
    else:
        lower = (x - p.threshold) * p.negative_slope
    y = ops.where(x <= p.threshold, lower, x)
    if p.max_value is not None:
        y = ops.where(x >= p.max_value, p.max_value, y)
    return y


def _relu_derivative(ops: Ops, x: Any, p: BoundParams) -> Any:
    d = ops.where(x <= p.threshold, p.negative_slope, 1.0)
    if p.max_value is not None:
        d = ops.where(x >= p.max_value, 0.0, d)
    return propagate_nan(ops, x, d)


def _relu_check(p: BoundParams) -> None:
    if p.max_value is not None and p.max_value <= p.threshold:
        raise ValueError(
            f"relu: max_value={p.max_value!r} must be greater than threshold={p.threshold!r}. "
            "Raise max_value, lower threshold, or pass max_value=None for no cap."
        )


def _relu_breakpoints(p: BoundParams) -> tuple[float, ...]:
    points: tuple[float, ...] = (p.threshold,)
    if p.max_value is not None:
        points += (p.max_value,)
    return points


RELU = Variant(
    name="relu",
    summary="Rectified linear unit, with an optional leak below a threshold and a cap.",
    params=(
        Param("negative_slope", float, 0.0, "Slope below the threshold."),
        Param("max_value", float, None, "Saturation value; None means no cap.", optional=True),
        Param("threshold", float, 0.0, "Input at and below which the slope applies."),
    ),
    cases=(
        Case("max_value", "x >= max_value"),
        Case("x", "threshold < x < max_value"),
        Case("negative_slope * (x - threshold)", "x <= threshold"),
    ),
    derivative_cases=(
        Case("0", "x >= max_value"),
        Case("1", "threshold < x < max_value"),
        Case("negative_slope", "x <= threshold"),
    ),
    forward=_relu_forward,
    derivative=_relu_derivative,
    breakpoints=_relu_breakpoints,
    check=_relu_check,
    reference="Nair and Hinton, Rectified Linear Units Improve Restricted Boltzmann Machines, ICML 2010.",
    framework_defaults={
        "torch": "nn.ReLU(), F.relu(input); no slope, cap or threshold",
        "tf": "tf.nn.relu(features)",
        "keras": "keras.activations.relu(x, negative_slope=0.0, max_value=None, threshold=0.0); "
        "x == threshold gives 0, as here",
        "jax": "jax.nn.relu(x)",
        "onnx": "Relu",
    },
    value_ulps=1,
    gradient_ulps=0,
)


# leaky_relu --------------------------------------------------------------------


def _leaky_forward(ops: Ops, x: Any, p: BoundParams) -> Any:
    if p.negative_slope == 0:
        # -inf * 0 would be NaN; the limit is 0.
        return _relu_part(ops, x)
    return ops.where(x <= 0, x * p.negative_slope, x)


def _leaky_derivative(ops: Ops, x: Any, p: BoundParams) -> Any:
    return propagate_nan(ops, x, ops.where(x <= 0, p.negative_slope, 1.0))


LEAKY_RELU = Variant(
    name="leaky_relu",
    aliases=("leaky", "lrelu"),
    summary="Leaky ReLU: the identity for positive inputs, a small slope otherwise.",
    params=(Param("negative_slope", float, 0.01, "Slope for inputs at or below zero."),),
    cases=(Case("x", "x > 0"), Case("negative_slope * x", "x <= 0")),
    derivative_cases=(Case("1", "x > 0"), Case("negative_slope", "x <= 0")),
    symbols=(("negative_slope", "negative_slope"),),
    forward=_leaky_forward,
    derivative=_leaky_derivative,
    breakpoints=_zero,
    reference="Maas, Hannun and Ng, Rectifier Nonlinearities Improve Neural Network "
    "Acoustic Models, ICML 2013.",
    framework_defaults={
        "torch": "nn.LeakyReLU(negative_slope=0.01); gradient at 0 is the slope",
        "tf": "tf.nn.leaky_relu(features, alpha=0.2)",
        "keras": "activations.leaky_relu(x, negative_slope=0.2); layers.LeakyReLU(negative_slope=0.3)",
        "jax": "jax.nn.leaky_relu(x, negative_slope=0.01); gradient at 0 is 1",
        "onnx": "LeakyRelu(alpha=0.01)",
    },
    value_ulps=1,
    gradient_ulps=1,
)


# prelu -------------------------------------------------------------------------


def _prelu_forward(ops: Ops, x: Any, p: BoundParams, weight: Any) -> Any:
    return ops.where(x <= 0, x * weight, x)


def _prelu_derivative(ops: Ops, x: Any, p: BoundParams, weight: Any) -> Any:
    # 0 * clip(x) broadcasts the weight to x's shape without 0 * inf = NaN.
    return propagate_nan(ops, x, ops.where(x <= 0, weight + 0.0 * _clip(ops, x, 1.0), 1.0))


def _prelu_weight_derivative(ops: Ops, x: Any, p: BoundParams, weight: Any) -> Any:
    """Gradient of sum(prelu(x)) with respect to the broadcast weight, per element."""
    return ops.where(x <= 0, x, 0.0)


PRELU = Variant(
    name="prelu",
    summary="Parametric ReLU: leaky ReLU whose slope is a learned tensor, one per channel.",
    params=(
        Param(
            "channel_axis",
            int,
            1,
            "Axis of the input that the weight's entries index (1 is channels-first).",
        ),
    ),
    cases=(Case("x", "x > 0"), Case("weight[c] * x", "x <= 0")),
    derivative_cases=(Case("1", "x > 0"), Case("weight[c]", "x <= 0")),
    symbols=(("c", "the index along channel_axis"),),
    forward=_prelu_forward,
    derivative=_prelu_derivative,
    breakpoints=_zero,
    learnable=("weight",),
    reference="He, Zhang, Ren and Sun, Delving Deep into Rectifiers, ICCV 2015.",
    framework_defaults={
        "torch": "nn.PReLU(num_parameters=1, init=0.25); F.prelu(input, weight); channels on dim 1",
        "tf": "none",
        "keras": "layers.PReLU(alpha_initializer='Zeros', shared_axes=None); initial slope 0",
        "jax": "none",
        "onnx": "PRelu(X, slope); slope broadcasts one way",
    },
    value_ulps=1,
    gradient_ulps=0,
)
PRELU_WEIGHT_DERIVATIVE = _prelu_weight_derivative
PRELU_INIT = 0.25


# rrelu -------------------------------------------------------------------------


def _rrelu_slope(p: BoundParams) -> float:
    return (p.lower + p.upper) / 2.0


def _rrelu_forward(ops: Ops, x: Any, p: BoundParams, slope: Any = None) -> Any:
    if slope is None:
        slope = _rrelu_slope(p)
        if slope == 0:
            return _relu_part(ops, x)
    return ops.where(x <= 0, x * slope, x)


def _rrelu_derivative(ops: Ops, x: Any, p: BoundParams, slope: Any = None) -> Any:
    if slope is None:
        slope = _rrelu_slope(p)
        return propagate_nan(ops, x, ops.where(x <= 0, slope, 1.0))
    return propagate_nan(ops, x, ops.where(x <= 0, slope + 0.0 * _clip(ops, x, 1.0), 1.0))


def _rrelu_check(p: BoundParams) -> None:
    if p.lower > p.upper:
        raise ValueError(
            f"rrelu: lower={p.lower!r} must not exceed upper={p.upper!r}. "
            "Swap the two values or make them equal."
        )


RRELU = Variant(
    name="rrelu",
    summary="Randomized leaky ReLU: a random slope per element in training, the mean slope otherwise.",
    params=(
        Param("lower", float, 1.0 / 8.0, "Lower bound of the uniform slope distribution.", low=0.0),
        Param("upper", float, 1.0 / 3.0, "Upper bound of the uniform slope distribution.", low=0.0),
        Param("training", bool, False, "Draw a random slope per element when True."),
    ),
    cases=(Case("x", "x > 0"), Case("a * x", "x <= 0")),
    derivative_cases=(Case("1", "x > 0"), Case("a", "x <= 0")),
    symbols=(("a", "a draw from U(lower, upper) in training and (lower + upper) / 2 otherwise"),),
    forward=_rrelu_forward,
    derivative=_rrelu_derivative,
    breakpoints=_zero,
    random=True,
    check=_rrelu_check,
    reference="Xu, Wang, Chen and Li, Empirical Evaluation of Rectified Activations in "
    "Convolutional Network, 2015.",
    framework_defaults={
        "torch": "nn.RReLU(lower=1/8, upper=1/3); F.rrelu(training=False)",
        "tf": "none",
        "keras": "none",
        "jax": "none",
        "onnx": "none",
    },
    value_ulps=1,
    gradient_ulps=1,
)


# elu, selu, celu ---------------------------------------------------------------


def _elu_forward(ops: Ops, x: Any, p: BoundParams) -> Any:
    negative = ops.expm1(ops.minimum(x, 0.0)) * p.alpha
    return ops.where(x <= 0, negative, x)


def _elu_derivative(ops: Ops, x: Any, p: BoundParams) -> Any:
    negative = ops.exp(ops.minimum(x, 0.0)) * p.alpha
    return propagate_nan(ops, x, ops.where(x <= 0, negative, 1.0))


ELU = Variant(
    name="elu",
    summary="Exponential linear unit: saturates smoothly to -alpha for negative inputs.",
    params=(Param("alpha", float, 1.0, "Magnitude of the negative saturation value.", low=0.0),),
    cases=(Case("x", "x > 0"), Case("alpha * (exp(x) - 1)", "x <= 0")),
    derivative_cases=(Case("1", "x > 0"), Case("alpha * exp(x)", "x <= 0")),
    symbols=(("alpha", "alpha"),),
    forward=_elu_forward,
    derivative=_elu_derivative,
    breakpoints=_zero,
    reference="Clevert, Unterthiner and Hochreiter, Fast and Accurate Deep Network Learning "
    "by Exponential Linear Units (ELUs), ICLR 2016.",
    framework_defaults={
        "torch": "nn.ELU(alpha=1.0); gradient at 0 is alpha, as here",
        "tf": "tf.nn.elu(features); alpha fixed at 1",
        "keras": "activations.elu(x, alpha=1.0); layers.ELU(alpha=1.0)",
        "jax": "jax.nn.elu(x, alpha=1.0)",
        "onnx": "Elu(alpha=1.0)",
    },
    value_ulps=4,
    gradient_ulps=2,
)


def _selu_forward(ops: Ops, x: Any, p: BoundParams) -> Any:
    negative = ops.expm1(ops.minimum(x, 0.0)) * (SELU_SCALE * SELU_ALPHA)
    return ops.where(x <= 0, negative, x * SELU_SCALE)


def _selu_derivative(ops: Ops, x: Any, p: BoundParams) -> Any:
    negative = ops.exp(ops.minimum(x, 0.0)) * (SELU_SCALE * SELU_ALPHA)
    return propagate_nan(ops, x, ops.where(x <= 0, negative, SELU_SCALE))


SELU = Variant(
    name="selu",
    summary="Scaled ELU with the fixed constants that make activations self-normalizing.",
    params=(),
    cases=(Case("scale * x", "x > 0"), Case("scale * alpha * (exp(x) - 1)", "x <= 0")),
    derivative_cases=(Case("scale", "x > 0"), Case("scale * alpha * exp(x)", "x <= 0")),
    symbols=(
        ("alpha", f"the constant {SELU_ALPHA!r}"),
        ("scale", f"the constant {SELU_SCALE!r}"),
    ),
    forward=_selu_forward,
    derivative=_selu_derivative,
    breakpoints=_zero,
    reference="Klambauer, Unterthiner, Mayr and Hochreiter, Self-Normalizing Neural Networks, "
    "NeurIPS 2017.",
    framework_defaults={
        "torch": "nn.SELU(); full-precision constants",
        "tf": "tf.nn.selu(features); gradient at 0 is scale, not scale * alpha",
        "keras": "activations.selu(x)",
        "jax": "jax.nn.selu(x)",
        "onnx": "Selu(alpha=1.67326319217681884765625, gamma=1.05070102214813232421875), "
        "float32 roundings",
    },
    value_ulps=4,
    gradient_ulps=2,
)


def _celu_forward(ops: Ops, x: Any, p: BoundParams) -> Any:
    negative = ops.expm1(ops.minimum(x, 0.0) / p.alpha) * p.alpha
    return ops.where(x <= 0, negative, x)


def _celu_derivative(ops: Ops, x: Any, p: BoundParams) -> Any:
    negative = ops.exp(ops.minimum(x, 0.0) / p.alpha)
    return propagate_nan(ops, x, ops.where(x <= 0, negative, 1.0))


CELU = Variant(
    name="celu",
    summary="Continuously differentiable ELU: the derivative is 1 at zero for every alpha.",
    params=(
        Param(
            "alpha",
            float,
            1.0,
            "Magnitude of the negative saturation value.",
            low=0.0,
            low_open=True,
        ),
    ),
    cases=(Case("x", "x > 0"), Case("alpha * (exp(x / alpha) - 1)", "x <= 0")),
    derivative_cases=(Case("1", "x > 0"), Case("exp(x / alpha)", "x <= 0")),
    symbols=(("alpha", "alpha"),),
    forward=_celu_forward,
    derivative=_celu_derivative,
    breakpoints=_zero,
    reference="Barron, Continuously Differentiable Exponential Linear Units, 2017.",
    framework_defaults={
        "torch": "nn.CELU(alpha=1.0)",
        "tf": "none",
        "keras": "activations.celu(x, alpha=1.0)",
        "jax": "jax.nn.celu(x, alpha=1.0)",
        "onnx": "Celu(alpha=1.0)",
    },
    value_ulps=4,
    gradient_ulps=2,
    # exp(x / alpha) carries the rounding of x / alpha, scaled by |x / alpha|, into a
    # derivative that is tiny there, so its error is measured against at least 1.
    gradient_floor=1.0,
)


# crelu -------------------------------------------------------------------------


def _crelu_forward(ops: Ops, x: Any, p: BoundParams) -> Any:
    return ops.concatenate([_relu_part(ops, x), _relu_part(ops, -x)], axis=p.axis)


def _crelu_derivative(ops: Ops, x: Any, p: BoundParams) -> Any:
    d = ops.where(x > 0, 1.0, 0.0) - ops.where(x < 0, 1.0, 0.0)
    return propagate_nan(ops, x, d)


CRELU = Variant(
    name="crelu",
    summary="Concatenated ReLU: relu(x) and relu(-x) joined along an axis, doubling it.",
    params=(Param("axis", int, -1, "Axis along which the two halves are joined."),),
    cases=(Case("concatenate([relu(x), relu(-x)], axis)", "always"),),
    derivative_cases=(
        Case("1", "x > 0"),
        Case("0", "x == 0"),
        Case("-1", "x < 0"),
    ),
    symbols=(("derivative", "the gradient of the sum of both halves"),),
    forward=_crelu_forward,
    derivative=_crelu_derivative,
    breakpoints=_zero,
    output_width=2,
    elementwise=False,
    reference="Shang, Sohn, Almeida and Lee, Understanding and Improving Convolutional Neural "
    "Networks via Concatenated Rectified Linear Units, ICML 2016.",
    framework_defaults={
        "torch": "none (a recipe in the nn.ReLU docstring)",
        "tf": "tf.nn.crelu(features, axis=-1)",
        "keras": "none",
        "jax": "none",
        "onnx": "none",
    },
    value_ulps=0,
    gradient_ulps=0,
)


# relu6, thresholded_relu, squared_relu -----------------------------------------


def _relu6_forward(ops: Ops, x: Any, p: BoundParams) -> Any:
    return ops.where(x <= 0, 0.0, ops.where(x >= 6, 6.0, x))


def _relu6_derivative(ops: Ops, x: Any, p: BoundParams) -> Any:
    return propagate_nan(ops, x, ops.where((x <= 0) | (x >= 6), 0.0, 1.0))


RELU6 = Variant(
    name="relu6",
    summary="ReLU capped at 6.",
    params=(),
    cases=(Case("6", "x >= 6"), Case("x", "0 < x < 6"), Case("0", "x <= 0")),
    derivative_cases=(Case("0", "x >= 6"), Case("1", "0 < x < 6"), Case("0", "x <= 0")),
    forward=_relu6_forward,
    derivative=_relu6_derivative,
    breakpoints=lambda p: (0.0, 6.0),
    reference="Krizhevsky, Convolutional Deep Belief Networks on CIFAR-10, 2010.",
    framework_defaults={
        "torch": "nn.ReLU6(); gradient 0 at 0 and 6",
        "tf": "tf.nn.relu6(features)",
        "keras": "activations.relu6(x)",
        "jax": "jax.nn.relu6(x); gradient 0 at 0 and 6",
        "onnx": "none (Clip 0..6)",
    },
    value_ulps=0,
    gradient_ulps=0,
)


def _thresholded_forward(ops: Ops, x: Any, p: BoundParams) -> Any:
    return ops.where(x <= p.threshold, 0.0, x)


def _thresholded_derivative(ops: Ops, x: Any, p: BoundParams) -> Any:
    return propagate_nan(ops, x, ops.where(x <= p.threshold, 0.0, 1.0))


THRESHOLDED_RELU = Variant(
    name="thresholded_relu",
    summary="Thresholded ReLU: the identity above a threshold, zero at and below it.",
    params=(Param("threshold", float, 1.0, "Input at and below which the output is zero."),),
    cases=(Case("x", "x > threshold"), Case("0", "x <= threshold")),
    derivative_cases=(Case("1", "x > threshold"), Case("0", "x <= threshold")),
    forward=_thresholded_forward,
    derivative=_thresholded_derivative,
    breakpoints=lambda p: (p.threshold,),
    reference="Konda, Memisevic and Krueger, Zero-bias autoencoders and the benefits of "
    "co-adapting features, ICLR 2015.",
    framework_defaults={
        "torch": "nn.Threshold(threshold, value=0.0); no defaults",
        "tf": "none",
        "keras": "activations.relu(x, threshold=1.0); x == threshold gives 0, as here",
        "jax": "none",
        "onnx": "ThresholdedRelu(alpha=1.0)",
    },
    value_ulps=0,
    gradient_ulps=0,
)


def _squared_forward(ops: Ops, x: Any, p: BoundParams) -> Any:
    r = _relu_part(ops, x)
    return r * r


def _squared_derivative(ops: Ops, x: Any, p: BoundParams) -> Any:
    return _relu_part(ops, x) * 2.0


SQUARED_RELU = Variant(
    name="squared_relu",
    summary="Squared ReLU: relu(x) ** 2.",
    params=(),
    cases=(Case("x ** 2", "x > 0"), Case("0", "x <= 0")),
    derivative_cases=(Case("2 * x", "x > 0"), Case("0", "x <= 0")),
    forward=_squared_forward,
    derivative=_squared_derivative,
    breakpoints=_zero,
    reference="So et al., Primer: Searching for Efficient Transformers for Language Modeling, "
    "NeurIPS 2021.",
    framework_defaults={
        "torch": "none",
        "tf": "none",
        "keras": "none",
        "jax": "none",
        "onnx": "none",
    },
    value_ulps=1,
    gradient_ulps=0,
)


# gelu --------------------------------------------------------------------------


def _zero_at_neginf(ops: Ops, x: Any) -> Any:
    # x * F(x) with F(-inf) == 0 would be -inf * 0 = NaN; the limit is 0.
    return ops.where(ops.isneginf(x), 0.0, x)


def _gelu_inner(x: Any) -> Any:
    return (x + x * x * x * _GELU_TANH_COEFF) * (2.0 * SQRT_2_OVER_PI)


def _gelu_forward(ops: Ops, x: Any, p: BoundParams) -> Any:
    if p.approximate == "tanh":
        # 0.5 * (1 + tanh(z)) == sigmoid(2 * z), without the cancellation at z << 0.
        return _zero_at_neginf(ops, x) * ops.sigmoid(_gelu_inner(x))
    # Phi(x) first, then the product, so x * 2 never overflows near the largest float.
    return _zero_at_neginf(ops, x) * (ops.erfc(x * -SQRT1_2) * 0.5)


def _gelu_derivative(ops: Ops, x: Any, p: BoundParams) -> Any:
    xc = _clip(ops, x, _TAIL)
    if p.approximate == "tanh":
        s = ops.sigmoid(_gelu_inner(x))
        t = ops.sigmoid(-_gelu_inner(xc))
        slope = (xc * xc * (3.0 * _GELU_TANH_COEFF) + 1.0) * (2.0 * SQRT_2_OVER_PI)
        d = s + xc * s * t * slope
    else:
        d = ops.erfc(x * -SQRT1_2) * 0.5 + xc * ops.exp(xc * xc * -0.5) * INV_SQRT_2PI
    return propagate_nan(ops, x, d)


GELU = Variant(
    name="gelu",
    summary="Gaussian error linear unit: x weighted by the standard normal CDF.",
    params=(
        Param(
            "approximate",
            str,
            "none",
            "'none' for the exact erf form, 'tanh' for the tanh approximation.",
            choices=("none", "tanh"),
        ),
    ),
    cases=(
        Case("x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt(2)))", "approximate == 'none'"),
        Case(
            "0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x ** 3)))",
            "approximate == 'tanh'",
        ),
    ),
    derivative_cases=(
        Case("Phi(x) + x * phi(x)", "approximate == 'none'"),
        Case("derivative of the tanh form", "approximate == 'tanh'"),
    ),
    symbols=(("Phi", "the standard normal CDF"), ("phi", "its density")),
    forward=_gelu_forward,
    derivative=_gelu_derivative,
    breakpoints=_no_breakpoints,
    reference="Hendrycks and Gimpel, Gaussian Error Linear Units (GELUs), 2016.",
    framework_defaults={
        "torch": "nn.GELU(approximate='none')",
        "tf": "tf.nn.gelu(features, approximate=False)",
        "keras": "activations.gelu(x, approximate=False); ops.gelu(x, approximate=True)",
        "jax": "jax.nn.gelu(x, approximate=True)",
        "onnx": "Gelu(approximate='none'), opset 20",
    },
    value_ulps=4,
    gradient_ulps=8,
    error_scale="input",
)


# silu, mish, softplus ----------------------------------------------------------


def _silu_forward(ops: Ops, x: Any, p: BoundParams) -> Any:
    if p.beta == 0:
        return x * 0.5
    s = ops.sigmoid(x * p.beta) if p.beta != 1.0 else ops.sigmoid(x)
    # An infinite x whose sigmoid factor is 0 has the limit 0, not inf * 0.
    return ops.where(s <= 0, 0.0, x * s)


def _silu_derivative(ops: Ops, x: Any, p: BoundParams) -> Any:
    if p.beta == 0:
        return propagate_nan(ops, x, 0.0 * _clip(ops, x, 1.0) + 0.5)
    xc = _clip(ops, x, _LOGISTIC_TAIL / abs(p.beta))
    s = ops.sigmoid(x * p.beta)
    t = ops.sigmoid(xc * -p.beta)
    d = s + xc * s * t * p.beta
    return propagate_nan(ops, x, d)


SILU = Variant(
    name="silu",
    aliases=("swish",),
    summary="Sigmoid linear unit (swish): x * sigmoid(beta * x).",
    params=(Param("beta", float, 1.0, "Scale of the input inside the sigmoid."),),
    cases=(Case("x * sigmoid(beta * x)", "always"),),
    derivative_cases=(
        Case("sigmoid(beta * x) * (1 + beta * x * (1 - sigmoid(beta * x)))", "always"),
    ),
    symbols=(("beta", "beta"),),
    forward=_silu_forward,
    derivative=_silu_derivative,
    breakpoints=_no_breakpoints,
    reference="Ramachandran, Zoph and Le, Searching for Activation Functions, 2017; "
    "Elfwing, Uchibe and Doya, 2018.",
    framework_defaults={
        "torch": "nn.SiLU(); no beta; silu(-inf) is NaN",
        "tf": "tf.nn.silu(features, beta=1.0)",
        "keras": "activations.silu(x)",
        "jax": "jax.nn.silu(x)",
        "onnx": "Swish(alpha=1.0), opset 24",
    },
    value_ulps=4,
    gradient_ulps=8,
    error_scale="input",
)


def _softplus_stable(ops: Ops, z: Any) -> Any:
    return ops.maximum(z, 0.0) + ops.log1p(ops.exp(-ops.abs(z)))


def _mish_forward(ops: Ops, x: Any, p: BoundParams) -> Any:
    t = ops.tanh(_softplus_stable(ops, x))
    return ops.where(t <= 0, 0.0, x * t)


def _mish_derivative(ops: Ops, x: Any, p: BoundParams) -> Any:
    # With s = sigmoid(-x) = exp(-softplus(x)): tanh(softplus(x)) = sigmoid(x) * (1 + s) / (1 + s**2)
    # and 1 - tanh(softplus(x))**2 = 4 * s**2 / (1 + s**2)**2, neither of which cancels.
    xc = _clip(ops, x, _LOGISTIC_TAIL)
    s = ops.sigmoid(-xc)
    q = s * s + 1.0
    t = ops.sigmoid(xc) * (s + 1.0) / q
    sech_squared = s * s * 4.0 / (q * q)
    d = t + xc * sech_squared * ops.sigmoid(xc)
    return propagate_nan(ops, x, d)


MISH = Variant(
    name="mish",
    summary="Mish: x * tanh(softplus(x)).",
    params=(),
    cases=(Case("x * tanh(log(1 + exp(x)))", "always"),),
    derivative_cases=(
        Case("tanh(sp) + x * (1 - tanh(sp) ** 2) * sigmoid(x), sp = log(1 + exp(x))", "always"),
    ),
    forward=_mish_forward,
    derivative=_mish_derivative,
    breakpoints=_no_breakpoints,
    reference="Misra, Mish: A Self Regularized Non-Monotonic Activation Function, 2019.",
    framework_defaults={
        "torch": "nn.Mish(); mish(-inf) is NaN",
        "tf": "none",
        "keras": "activations.mish(x)",
        "jax": "jax.nn.mish(x)",
        "onnx": "Mish, opset 18",
    },
    value_ulps=4,
    gradient_ulps=8,
    error_scale="input",
)


def _softplus_forward(ops: Ops, x: Any, p: BoundParams) -> Any:
    z = x * p.beta if p.beta != 1.0 else x
    smooth = _softplus_stable(ops, z)
    if p.beta != 1.0:
        smooth = smooth / p.beta
    return ops.where(z > p.threshold, x, smooth)


def _softplus_derivative(ops: Ops, x: Any, p: BoundParams) -> Any:
    z = x * p.beta
    return propagate_nan(ops, x, ops.where(z > p.threshold, 1.0, ops.sigmoid(z)))


SOFTPLUS = Variant(
    name="softplus",
    summary="Softplus, a smooth ReLU, that reverts to the identity above a threshold.",
    params=(
        Param(
            "beta", float, 1.0, "Sharpness: larger values approach ReLU.", low=0.0, low_open=True
        ),
        Param(
            "threshold",
            float,
            20.0,
            "Value of beta * x above which the output is x itself, for numerical stability.",
        ),
    ),
    cases=(
        Case("x", "beta * x > threshold"),
        Case("log(1 + exp(beta * x)) / beta", "beta * x <= threshold"),
    ),
    derivative_cases=(
        Case("1", "beta * x > threshold"),
        Case("sigmoid(beta * x)", "beta * x <= threshold"),
    ),
    symbols=(("beta", "beta"), ("threshold", "threshold")),
    forward=_softplus_forward,
    derivative=_softplus_derivative,
    breakpoints=lambda p: (p.threshold / p.beta,),
    reference="Dugas, Bengio, Belisle, Nadeau and Garcia, Incorporating Second-Order "
    "Functional Knowledge for Better Option Pricing, NeurIPS 2000.",
    framework_defaults={
        "torch": "nn.Softplus(beta=1.0, threshold=20.0)",
        "tf": "tf.nn.softplus(features); no beta or threshold",
        "keras": "activations.softplus(x); no beta or threshold",
        "jax": "jax.nn.softplus(x); no beta or threshold",
        "onnx": "Softplus; no beta or threshold",
    },
    value_ulps=3,
    gradient_ulps=3,
)


# hard_sigmoid, hard_swish ------------------------------------------------------


def _hard_sigmoid_forward(ops: Ops, x: Any, p: BoundParams) -> Any:
    return ops.where(x <= -3, 0.0, ops.where(x >= 3, 1.0, (x + 3.0) / 6.0))


def _hard_sigmoid_derivative(ops: Ops, x: Any, p: BoundParams) -> Any:
    return propagate_nan(ops, x, ops.where((x <= -3) | (x >= 3), 0.0, 1.0 / 6.0))


HARD_SIGMOID = Variant(
    name="hard_sigmoid",
    summary="Hard sigmoid: relu6(x + 3) / 6, a piecewise-linear sigmoid.",
    params=(),
    cases=(Case("1", "x >= 3"), Case("(x + 3) / 6", "-3 < x < 3"), Case("0", "x <= -3")),
    derivative_cases=(Case("0", "x >= 3"), Case("1 / 6", "-3 < x < 3"), Case("0", "x <= -3")),
    forward=_hard_sigmoid_forward,
    derivative=_hard_sigmoid_derivative,
    breakpoints=lambda p: (-3.0, 3.0),
    reference="Howard et al., Searching for MobileNetV3, ICCV 2019.",
    framework_defaults={
        "torch": "nn.Hardsigmoid()",
        "tf": "none",
        "keras": "activations.hard_sigmoid(x), relu6(x + 3) / 6",
        "jax": "jax.nn.hard_sigmoid(x)",
        "onnx": "HardSigmoid(alpha=0.2, beta=0.5); pass alpha=1/6 for this form",
    },
    value_ulps=1,
    gradient_ulps=1,
)


def _hard_swish_forward(ops: Ops, x: Any, p: BoundParams) -> Any:
    return ops.where(x <= -3, 0.0, ops.where(x > 3, x, x * (x + 3.0) / 6.0))


def _hard_swish_derivative(ops: Ops, x: Any, p: BoundParams) -> Any:
    middle = (x * 2.0 + 3.0) / 6.0
    return propagate_nan(ops, x, ops.where(x <= -3, 0.0, ops.where(x > 3, 1.0, middle)))


HARD_SWISH = Variant(
    name="hard_swish",
    aliases=("hard_silu",),
    summary="Hard swish: x * relu6(x + 3) / 6.",
    params=(),
    cases=(Case("x", "x > 3"), Case("x * (x + 3) / 6", "-3 < x <= 3"), Case("0", "x <= -3")),
    derivative_cases=(
        Case("1", "x > 3"),
        Case("(2 * x + 3) / 6", "-3 < x <= 3"),
        Case("0", "x <= -3"),
    ),
    forward=_hard_swish_forward,
    derivative=_hard_swish_derivative,
    breakpoints=lambda p: (-3.0, 3.0),
    reference="Howard et al., Searching for MobileNetV3, ICCV 2019.",
    framework_defaults={
        "torch": "nn.Hardswish(); gradient 1 at 3 (1.5 here), 0 at -3 as here; hardswish(-inf) is NaN",
        "tf": "none",
        "keras": "activations.hard_silu(x)",
        "jax": "jax.nn.hard_swish(x)",
        "onnx": "HardSwish",
    },
    value_ulps=2,
    gradient_ulps=1,
    error_scale="input",
)


VARIANTS: tuple[Variant, ...] = (
    RELU,
    LEAKY_RELU,
    PRELU,
    RRELU,
    ELU,
    SELU,
    CELU,
    CRELU,
    RELU6,
    THRESHOLDED_RELU,
    SQUARED_RELU,
    GELU,
    SILU,
    MISH,
    SOFTPLUS,
    HARD_SIGMOID,
    HARD_SWISH,
)
