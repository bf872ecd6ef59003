"""TensorFlow backend: every variant as TensorFlow ops with a custom gradient.

``bind`` turns a variant and its validated parameters into a function of
``tf.Tensor`` inputs. Parameters are Python constants captured in the
function's closure, so a ``tf.function`` that calls it traces once per input
signature, never once per parameter value or per call. The function works
eagerly, under ``tf.GradientTape``, inside ``tf.function`` and inside
``tf.function(jit_compile=True)``.

Gradients come from the spec's ``derivative`` through ``tf.custom_gradient``,
because the native kernels disagree with the contract at breakpoints
(``tf.nn.selu`` has gradient ``scale`` at 0), have no parameters
(``tf.nn.elu`` has no alpha) or differ at NaN and infinities. The forward value
uses a native kernel only where the parity harness finds it bit-identical to
the spec's formula; see ``_NATIVE_FORWARD``.

float16 and bfloat16 inputs are computed in float32 and cast back once, so
the output dtype always equals the input dtype.

TensorFlow runs CPU kernels and XLA code with subnormal floats flushed to
zero, so a float32 or bfloat16 input below the smallest normal number acts as
zero in comparisons and products.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from ._adapter import (
    check_dtype,
    check_framework,
    check_weight_dtype,
    make_functions,
    normalize_axis,
    prelu_weight_shape,
)
from ._ops import Ops
from ._spec import BoundParams, Variant
from ._variants import PRELU_WEIGHT_DERIVATIVE, RELU

__all__ = ["PARITY_MODES", "TFOps", "bind", "evaluate"]

_HALF_DTYPES = (tf.float16, tf.bfloat16)


class TFOps(Ops):
    """The spec vocabulary in TensorFlow ops, for tensors of one float dtype.

    ``tf.where`` needs both branches as tensors of one dtype, so Python floats
    passed to ``where``, ``maximum`` and ``minimum`` become constants of
    ``dtype``.
    """

    def __init__(self, dtype: tf.DType) -> None:
        self.dtype = dtype

    def _tensor(self, value: Any) -> Any:
        if isinstance(value, (int, float)):
            return tf.constant(value, dtype=self.dtype)
        return value

    def where(self, condition: Any, a: Any, b: Any) -> Any:
        return tf.where(condition, self._tensor(a), self._tensor(b))

    def maximum(self, a: Any, b: Any) -> Any:
        return tf.maximum(self._tensor(a), self._tensor(b))

    def minimum(self, a: Any, b: Any) -> Any:
        return tf.minimum(self._tensor(a), self._tensor(b))

    def abs(self, x: Any) -> Any:
        return tf.abs(x)

    def exp(self, x: Any) -> Any:
        return tf.exp(x)

    def expm1(self, x: Any) -> Any:
        return tf.math.expm1(x)

    def log1p(self, x: Any) -> Any:
        return tf.math.log1p(x)

    def tanh(self, x: Any) -> Any:
        return tf.tanh(x)

    def erfc(self, x: Any) -> Any:
        return tf.math.erfc(x)

    def sigmoid(self, x: Any) -> Any:
        # tf.sigmoid is off by up to 6 float32 ULPs (TensorFlow 2.21 CPU, measured
        # on 400k normal and uniform inputs); this form is within 2. exp of the
        # negative magnitude never overflows.
        e = tf.exp(-tf.abs(x))
        return tf.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))

    def isnan(self, x: Any) -> Any:
        return tf.math.is_nan(x)

    def isneginf(self, x: Any) -> Any:
        return tf.equal(x, tf.constant(-math.inf, dtype=x.dtype))

    def concatenate(self, arrays: Sequence[Any], axis: int) -> Any:
        return tf.concat(list(arrays), axis=axis)


_OPS = {tf.float32: TFOps(tf.float32), tf.float64: TFOps(tf.float64)}


def _compute_dtype(dtype: tf.DType) -> tf.DType:
    return tf.float32 if dtype in _HALF_DTYPES else dtype


def _as_input(variant: Variant, x: Any) -> tf.Tensor:
    """Convert ``x`` to a tensor and raise TypeError unless its dtype is a supported float."""
    if not isinstance(x, (tf.Tensor, tf.Variable)):
        check_framework(variant, x, "tf")
        x = tf.convert_to_tensor(x)
    check_dtype(variant, x.dtype.name, "tf")
    return tf.convert_to_tensor(x)


def _static_rank(variant: Variant, x: tf.Tensor) -> int:
    rank = x.shape.rank
    if rank is None:
        raise ValueError(
            f"{variant.name}: the input has an unknown number of dimensions; give the "
            "tf.function an input_signature with a known rank."
        )
    return int(rank)


# Native kernels whose values are identical to the spec's forward on every dtype
# of the parity grid, eagerly and under XLA, NaN and infinities included. Each
# entry maps a variant name to (applies(p), kernel(x, p)). tf.nn.relu is absent
# because under XLA it returns -s for a negative subnormal s where the spec gives
# 0, and tf.nn.leaky_relu because it rounds the slope to float32 for float64 input.
_NATIVE_FORWARD: dict[
    str, tuple[Callable[[BoundParams], bool], Callable[[Any, BoundParams], Any]]
] = {
    "relu6": (lambda p: True, lambda x, p: tf.nn.relu6(x)),
}


def _forward_function(variant: Variant, p: BoundParams) -> Callable[..., Any]:
    native = _NATIVE_FORWARD.get(variant.name)
    if native is not None and native[0](p):
        kernel = native[1]
        return lambda x, *tensors: kernel(x, p)
    return lambda x, *tensors: variant.forward(_OPS[x.dtype], x, p, *tensors)


def _elementwise_core(variant: Variant, p: BoundParams) -> Callable[[tf.Tensor], tf.Tensor]:
    """Return ``core(x)`` on a float32/float64 tensor, with the spec's derivative as gradient."""
    forward = _forward_function(variant, p)

    @tf.custom_gradient
    def core(x: tf.Tensor) -> Any:
        y = forward(x)

        def gradient(upstream: tf.Tensor) -> tf.Tensor:
            return upstream * variant.derivative(_OPS[x.dtype], x, p)

        return y, gradient

    return core


def _run_in_compute_dtype(core: Callable[..., tf.Tensor], x: tf.Tensor, *tensors: Any) -> tf.Tensor:
    """Apply ``core`` in float32 for 16-bit inputs and cast the result back to x's dtype."""
    compute = _compute_dtype(x.dtype)
    if compute == x.dtype:
        return core(x, *tensors)
    return tf.cast(core(tf.cast(x, compute), *tensors), x.dtype)


def _bind_elementwise(variant: Variant, p: BoundParams) -> Callable[..., tf.Tensor]:
    core = _elementwise_core(variant, p)

    def function(x: Any) -> tf.Tensor:
        x = _as_input(variant, x)
        return _run_in_compute_dtype(core, x)

    return function


def _bind_crelu(variant: Variant, p: BoundParams) -> Callable[..., tf.Tensor]:
    # Each half goes through the custom-gradient relu, so an upstream gradient
    # that differs between the halves is handled by the relu gradient and the
    # negation, not by the sum-only derivative of the crelu spec.
    relu_core = _elementwise_core(RELU, RELU.bind())

    def core(x: tf.Tensor, axis: int) -> tf.Tensor:
        return tf.concat([relu_core(x), relu_core(-x)], axis=axis)

    def function(x: Any) -> tf.Tensor:
        x = _as_input(variant, x)
        rank = _static_rank(variant, x)
        if rank == 0:
            raise ValueError(
                f"{variant.name}: input must have at least one dimension; got a scalar."
            )
        axis = normalize_axis(variant, p.axis, rank)
        return _run_in_compute_dtype(core, x, axis)

    return function


def _as_weight(variant: Variant, weight: Any) -> tf.Tensor:
    if not isinstance(weight, (tf.Tensor, tf.Variable)):
        check_framework(variant, weight, "tf", "weight")
        if isinstance(weight, (int, float, list, tuple)):
            # Python numbers and lists are slopes, so they convert to a float dtype.
            weight = np.asarray(weight, dtype=np.float64)
        weight = tf.convert_to_tensor(weight)
    check_weight_dtype(variant, weight.dtype.name, "tf")
    return tf.convert_to_tensor(weight)


def _weight_shape(
    variant: Variant, x: tf.Tensor, weight: tf.Tensor, channel_axis: int
) -> tuple[int, ...]:
    rank = _static_rank(variant, x)
    if weight.shape.rank is None or not weight.shape.is_fully_defined():
        raise ValueError(
            f"{variant.name}: the weight shape {weight.shape} is not fully known; "
            "pass a weight with a static shape."
        )
    weight_shape = tuple(int(n) for n in weight.shape)
    x_shape = list(x.shape.as_list())
    if rank and math.prod(weight_shape) != 1:
        axis = normalize_axis(variant, channel_axis, rank, "channel_axis")
        # An unknown channel size is checked by broadcasting when the graph runs.
        if x_shape[axis] is None:
            x_shape[axis] = weight_shape[0] if len(weight_shape) == 1 else -1
    x_static = tuple(-1 if n is None else n for n in x_shape)
    return prelu_weight_shape(variant, x_static, weight_shape, channel_axis)


def _bind_prelu(variant: Variant, p: BoundParams) -> Callable[..., tf.Tensor]:
    @tf.custom_gradient
    def core(x: tf.Tensor, weight: tf.Tensor) -> Any:
        y = variant.forward(_OPS[x.dtype], x, p, weight)

        def gradient(upstream: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            ops = _OPS[x.dtype]
            grad_x = upstream * variant.derivative(ops, x, p, weight)
            per_element = upstream * PRELU_WEIGHT_DERIVATIVE(ops, x, p, weight)
            axes = [i for i, n in enumerate(weight.shape) if n == 1]
            grad_weight = (
                tf.reduce_sum(per_element, axis=axes, keepdims=True) if axes else per_element
            )
            return grad_x, grad_weight

        return y, gradient

    def function(x: Any, weight: Any) -> tf.Tensor:
        x = _as_input(variant, x)
        weight = _as_weight(variant, weight)
        shape = _weight_shape(variant, x, weight, p.channel_axis)
        compute = _compute_dtype(x.dtype)
        # Cast and reshape are differentiable, so the weight's gradient arrives
        # in its own dtype and shape.
        broadcast_weight = tf.reshape(tf.cast(weight, compute), shape)
        return _run_in_compute_dtype(core, x, broadcast_weight)

    return function


def _draw_slopes(shape: tf.Tensor, dtype: tf.DType, p: BoundParams, seed: Any) -> tf.Tensor:
    """Draw one slope per element from U(lower, upper).

    ``seed=None`` draws from ``tf.random.get_global_generator()``; a
    ``tf.random.Generator`` draws from that generator; an int, a pair of ints
    or an int tensor of shape [2] draws with ``tf.random.stateless_uniform``,
    so the same seed gives the same slopes.
    """
    if seed is None:
        generator = tf.random.get_global_generator()
        return generator.uniform(shape, minval=p.lower, maxval=p.upper, dtype=dtype)
    if isinstance(seed, tf.random.Generator):
        return seed.uniform(shape, minval=p.lower, maxval=p.upper, dtype=dtype)
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        seed = (int(seed), 0)
    seed = tf.convert_to_tensor(seed)
    if not seed.dtype.is_integer or seed.shape.as_list() != [2]:
        raise ValueError(
            f"rrelu: seed of dtype {seed.dtype.name} and shape {seed.shape} is invalid; pass an "
            "int, a pair of ints, an int tensor of shape [2] or a tf.random.Generator."
        )
    return tf.random.stateless_uniform(
        shape, seed=seed, minval=p.lower, maxval=p.upper, dtype=dtype
    )


def _bind_rrelu(variant: Variant, p: BoundParams) -> Callable[..., tf.Tensor]:
    if not p.training:
        core = _elementwise_core(variant, p)

        def evaluation(x: Any, seed: Any = None) -> tf.Tensor:
            x = _as_input(variant, x)
            return _run_in_compute_dtype(core, x)

        return evaluation

    @tf.custom_gradient
    def training_core(x: tf.Tensor, slope: tf.Tensor) -> Any:
        y = variant.forward(_OPS[x.dtype], x, p, slope)

        def gradient(upstream: tf.Tensor) -> tuple[tf.Tensor, None]:
            # The slopes are a random draw, not a differentiable input.
            return upstream * variant.derivative(_OPS[x.dtype], x, p, slope), None

        return y, gradient

    def training(x: Any, seed: Any = None) -> tf.Tensor:
        x = _as_input(variant, x)
        slope = _draw_slopes(tf.shape(x), _compute_dtype(x.dtype), p, seed)
        return _run_in_compute_dtype(training_core, x, slope)

    return training


def bind(variant: Variant, p: BoundParams) -> Callable[..., tf.Tensor]:
    """Return a TensorFlow function of ``x`` for one variant and validated parameters.

    The returned function converts non-tensor input with
    ``tf.convert_to_tensor`` and returns a tensor of x's dtype. Signatures:
    ``f(x)`` for most variants, ``f(x, weight)`` for prelu, and
    ``f(x, seed=None)`` for rrelu, where ``seed`` applies with
    ``training=True`` (see ``_draw_slopes``).

    The function raises TypeError for an input dtype other than float16,
    bfloat16, float32 or float64, and ValueError for a crelu axis or prelu
    channel axis out of range, a prelu weight whose size does not match the
    channels, or a scalar crelu input.
    """
    if variant.learnable:
        function = _bind_prelu(variant, p)
    elif variant.random:
        function = _bind_rrelu(variant, p)
    elif not variant.elementwise:
        function = _bind_crelu(variant, p)
    else:
        function = _bind_elementwise(variant, p)
    # The function has no tensor-dependent Python control flow, so AutoGraph has
    # nothing to convert; skipping it avoids a warning per variant in tf.function.
    function = tf.autograph.experimental.do_not_convert(function)
    function.__name__ = variant.name
    function.__qualname__ = variant.name
    function.__doc__ = variant.doc()
    return function


globals().update(make_functions(bind, "tf"))

PARITY_MODES = ("eager", "compiled")

# Errors that tf.function(jit_compile=True) raises when XLA cannot compile an op or dtype.
_COMPILE_ERRORS = (
    tf.errors.InvalidArgumentError,
    tf.errors.UnimplementedError,
    tf.errors.NotFoundError,
)


def _numpy_dtype(dtype: str) -> Any:
    return tf.as_dtype(dtype).as_numpy_dtype


def evaluate(
    mode: str, variant: Variant, p: BoundParams, x: np.ndarray, dtype: str, weight: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Run the TensorFlow backend for the parity harness; see ``relu_xf.parity``.

    ``"eager"`` runs op by op; ``"compiled"`` runs value and gradient inside
    ``tf.function(jit_compile=True)``.

    Raises:
        relu_xf.parity.Unsupported: XLA cannot compile the variant at ``dtype``;
            the message is the first line of TensorFlow's error.
    """
    function = bind(variant, p)
    # NumPy converts exactly; a TensorFlow cast would flush subnormal inputs to zero.
    inputs = tf.constant(x.astype(_numpy_dtype(dtype)))
    tensors = (tf.constant(np.asarray(weight, dtype=np.float64)),) if weight is not None else ()

    def value_and_gradient(inputs: tf.Tensor, *tensors: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            y = function(inputs, *tensors)
        return y, tape.gradient(y, inputs)

    if mode == "eager":
        y, g = value_and_gradient(inputs, *tensors)
    elif mode == "compiled":
        compiled = tf.function(value_and_gradient, jit_compile=True)
        try:
            y, g = compiled(inputs, *tensors)
        except _COMPILE_ERRORS as error:
            from .parity import Unsupported

            first_line = (
                str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            )
            raise Unsupported(first_line) from None
    else:
        raise ValueError(f"unknown parity mode {mode!r}; modes: {', '.join(PARITY_MODES)}.")
    return _to_float64(y), _to_float64(g)


def _to_float64(tensor: tf.Tensor) -> np.ndarray:
    return np.asarray(tensor.numpy()).astype(np.float64)
