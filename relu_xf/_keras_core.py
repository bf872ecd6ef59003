"""Keras 3 kernels: the ops vocabulary in ``keras.ops`` and custom-gradient functions.

Every function here runs on whichever backend Keras was started with
(TensorFlow, JAX or PyTorch). Gradients come from the spec's ``derivative``
through ``keras.ops.custom_gradient``. In Keras 3.15.1 that decorator maps to
``tf.custom_gradient``, ``jax.custom_gradient`` and, for PyTorch, a
``torch.autograd.Function`` whose backward calls ``grad(*inputs,
upstream=g)``. TensorFlow and JAX call ``grad(g)`` instead, so every gradient
function here accepts both forms.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
from keras import ops as K

from ._adapter import check_dtype, normalize_axis, prelu_weight_shape
from ._ops import Ops
from ._registry import framework_of, resolve_backend
from ._spec import BoundParams, Variant
from ._variants import PRELU_WEIGHT_DERIVATIVE, RELU

__all__ = ["KerasOps", "OPS", "bind", "dtype_name", "prelu_apply"]

_HALF_DTYPES = ("float16", "bfloat16")


class KerasOps(Ops):
    """The vocabulary of ``relu_xf._ops`` in ``keras.ops``, for any Keras backend.

    With ``dtype`` set, Python floats passed to ``where``, ``maximum`` and
    ``minimum`` become constants of that dtype first, and ``maximum`` and
    ``minimum`` are selections. Keras 3.15.1 with the PyTorch backend
    otherwise makes Python floats float32, which rounds a float64 slope, and
    its ``keras.ops.minimum`` of two float64 tensors computes in float32.
    """

    def __init__(self, dtype: str | None = None) -> None:
        self.dtype = dtype

    def _tensor(self, value: Any) -> Any:
        if self.dtype is not None and isinstance(value, (int, float)):
            return K.convert_to_tensor(value, dtype=self.dtype)
        return value

    def where(self, condition: Any, a: Any, b: Any) -> Any:
        return K.where(condition, self._tensor(a), self._tensor(b))

    def maximum(self, a: Any, b: Any) -> Any:
        if self.dtype is None:
            return K.maximum(a, b)
        a, b = self._tensor(a), self._tensor(b)
        # A NaN in either argument is the result, as in IEEE maximum.
        return K.where(K.logical_or(K.isnan(b), a < b), b, a)

    def minimum(self, a: Any, b: Any) -> Any:
        if self.dtype is None:
            return K.minimum(a, b)
        a, b = self._tensor(a), self._tensor(b)
        return K.where(K.logical_or(K.isnan(b), a > b), b, a)

    def abs(self, x: Any) -> Any:
        return K.abs(x)

    def exp(self, x: Any) -> Any:
        return K.exp(x)

    def expm1(self, x: Any) -> Any:
        return K.expm1(x)

    def log1p(self, x: Any) -> Any:
        return K.log1p(x)

    def tanh(self, x: Any) -> Any:
        return K.tanh(x)

    def erfc(self, x: Any) -> Any:
        return K.erfc(x)

    def sigmoid(self, x: Any) -> Any:
        if keras.backend.backend() != "tensorflow":
            return K.sigmoid(x)
        # exp of the negative magnitude never overflows. With keras.ops.sigmoid the
        # parity harness measured softplus gradients 5 float32 ULPs off on
        # TensorFlow 2.21 CPU, against a bound of 2; this form stays within it.
        e = K.exp(-K.abs(x))
        return K.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))

    def isnan(self, x: Any) -> Any:
        return K.isnan(x)

    def isneginf(self, x: Any) -> Any:
        return K.logical_and(K.isinf(x), x < 0)

    def concatenate(self, arrays: Sequence[Any], axis: int) -> Any:
        return K.concatenate(list(arrays), axis=axis)


OPS = KerasOps()
_OPS_BY_DTYPE = {"float32": KerasOps("float32"), "float64": KerasOps("float64")}


def _ops(x: Any) -> KerasOps:
    """Return the vocabulary for the compute dtype of ``x`` (float32 or float64)."""
    return _OPS_BY_DTYPE[dtype_name(x)]


def dtype_name(x: Any) -> str:
    """Return the Keras name of the dtype of ``x`` ('float32', 'bfloat16', ...)."""
    return keras.backend.standardize_dtype(x.dtype)


def _upstream(args: tuple[Any, ...], upstream: Any) -> Any:
    # TensorFlow and JAX pass the upstream gradient positionally; the PyTorch
    # backend passes the saved inputs positionally and the gradient as a keyword.
    return args[0] if upstream is None else upstream


def _sum_to_shape(values: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``values`` over the axes along which a tensor of ``shape`` was broadcast."""
    lead = len(values.shape) - len(shape)
    axes = list(range(lead)) + [lead + i for i, n in enumerate(shape) if n == 1]
    if axes:
        values = K.sum(values, axis=axes, keepdims=True)
    return K.reshape(values, shape)


def _elementwise_kernel(variant: Variant, p: BoundParams) -> Callable[[Any], Any]:
    @K.custom_gradient
    def kernel(x: Any) -> Any:
        def grad(*args: Any, upstream: Any = None) -> Any:
            return _upstream(args, upstream) * variant.derivative(ops, x, p)

        ops = _ops(x)
        return variant.forward(ops, x, p), grad

    return kernel  # type: ignore[no-any-return]


def _weighted_kernel(variant: Variant, p: BoundParams) -> Callable[[Any, Any], Any]:
    """Return the PReLU kernel of ``(x, weight)``; ``weight`` broadcasts against ``x``."""

    @K.custom_gradient
    def kernel(x: Any, weight: Any) -> Any:
        def grad(*args: Any, upstream: Any = None) -> Any:
            g = _upstream(args, upstream)
            grad_x = g * variant.derivative(ops, x, p, weight)
            per_element = g * PRELU_WEIGHT_DERIVATIVE(ops, x, p, weight)
            return grad_x, _sum_to_shape(per_element, tuple(weight.shape))

        ops = _ops(x)
        return variant.forward(ops, x, p, weight), grad

    return kernel  # type: ignore[no-any-return]


def _random_slope_kernel(variant: Variant, p: BoundParams) -> Callable[[Any, Any], Any]:
    """Return the training-mode RReLU kernel of ``(x, slope)``; the slope gets no gradient."""

    @K.custom_gradient
    def kernel(x: Any, slope: Any) -> Any:
        def grad(*args: Any, upstream: Any = None) -> Any:
            g = _upstream(args, upstream)
            return g * variant.derivative(ops, x, p, slope), K.zeros_like(slope)

        ops = _ops(x)
        return variant.forward(ops, x, p, slope), grad

    return kernel  # type: ignore[no-any-return]


# The relu_xf backend whose tensors each Keras backend computes with.
_KERAS_FRAMEWORKS = {"tensorflow": "tf", "jax": "jax", "torch": "torch", "numpy": "numpy"}


def check_keras_framework(variant: Variant, x: Any, argument: str = "input") -> None:
    """Raise TypeError when ``x`` is a tensor of a framework Keras is not running on.

    NumPy arrays, Python scalars, Keras objects and tensors of the current Keras
    backend pass; a TensorFlow tensor under ``KERAS_BACKEND=jax``, say, does not,
    because converting it would copy it through host memory and drop its tape.
    """
    source = framework_of(x)
    backend = keras.backend.backend()
    native = _KERAS_FRAMEWORKS.get(backend)
    if source is None or source.name in (native, "numpy", "keras"):
        return
    label = resolve_backend(native).framework_label if native else backend
    raise TypeError(
        f"{variant.name} (keras): the {argument} is a {source.framework_label} tensor "
        f"({type(x).__module__}.{type(x).__qualname__}), but Keras runs on {label} "
        f"(KERAS_BACKEND={backend}) and does not take tensors of another framework. "
        f"Convert the {argument} to {label} first, or call relu_xf.{source.name}.{variant.name}."
    )


def _as_tensor(variant: Variant, x: Any) -> tuple[Any, str]:
    check_keras_framework(variant, x)
    if not K.is_tensor(x):
        x = K.convert_to_tensor(x)
    name = dtype_name(x)
    check_dtype(variant, name, "keras")
    return x, name


def _compute_dtype(name: str) -> str:
    return "float32" if name in _HALF_DTYPES else name


def _run(kernel: Callable[..., Any], x: Any, name: str, *tensors: Any) -> Any:
    """Run ``kernel`` in float32 for 16-bit inputs and cast the result back once."""
    compute = _compute_dtype(name)
    if compute != name:
        x = K.cast(x, compute)
    tensors = tuple(K.cast(t, compute) for t in tensors)
    y = kernel(x, *tensors)
    return y if compute == name else K.cast(y, name)


def prelu_apply(variant: Variant, p: BoundParams) -> Callable[[Any, Any], Any]:
    """Return ``f(x, weight)`` for a weight that already broadcasts against ``x``.

    The layer form uses this with its Keras-style slope of shape
    ``input_shape[1:]``; the function form reshapes a 1-D weight first.
    """
    kernel = _weighted_kernel(variant, p)

    def apply(x: Any, weight: Any) -> Any:
        x, name = _as_tensor(variant, x)
        return _run(kernel, x, name, weight)

    return apply


def _reject_symbolic(variant: Variant, x: Any, layer: str) -> None:
    if isinstance(x, keras.KerasTensor):
        raise TypeError(
            f"{variant.name} (keras): this function form cannot take a symbolic Keras tensor "
            f"such as keras.Input; use the layer relu_xf.keras.{layer} in a functional model."
        )


def bind(variant: Variant, p: BoundParams) -> Callable[..., Any]:
    """Return a Keras function of ``x`` for one variant and validated parameters.

    The function runs on the current Keras backend. Its gradient is the
    spec's derivative, so it follows the breakpoint rule and gives a NaN
    gradient at NaN inputs. Inputs of dtype float16 and bfloat16 are computed
    in float32 and the result is cast back. Calling the function raises
    TypeError for integer, bool or complex inputs. A symbolic ``keras.Input``
    is applied through the variant's layer so that a functional model keeps
    the custom gradient; PReLU and training-mode RReLU raise TypeError there.
    """
    if variant.learnable:
        return _bind_prelu(variant, p)
    if variant.random and p.training:
        return _bind_rrelu_training(variant, p)
    if variant.name == "crelu":
        return _bind_crelu(variant, p)

    kernel = _elementwise_kernel(variant, p)
    params = dict(p)
    params.pop("training", None)

    def function(x: Any) -> Any:
        if isinstance(x, keras.KerasTensor):
            from ._keras_layers import make_layer

            return make_layer(variant, **params)(x)
        x, name = _as_tensor(variant, x)
        return _run(kernel, x, name)

    return _named(function, variant)


def _bind_crelu(variant: Variant, p: BoundParams) -> Callable[..., Any]:
    # Both halves go through the custom-gradient relu, so any upstream gradient,
    # not only that of the sum, gets the contract's derivative.
    relu = _elementwise_kernel(RELU, RELU.bind())
    axis = p.axis

    def function(x: Any) -> Any:
        if isinstance(x, keras.KerasTensor):
            from ._keras_layers import make_layer

            return make_layer(variant, axis=axis)(x)
        x, name = _as_tensor(variant, x)
        ndim = len(x.shape)
        if ndim == 0:
            raise ValueError(
                f"{variant.name}: input must have at least one dimension; got a scalar."
            )
        normalize_axis(variant, axis, ndim)
        compute = _compute_dtype(name)
        xc = x if compute == name else K.cast(x, compute)
        y = K.concatenate([relu(xc), relu(-xc)], axis=axis)
        return y if compute == name else K.cast(y, name)

    return _named(function, variant)


def _bind_prelu(variant: Variant, p: BoundParams) -> Callable[..., Any]:
    apply = prelu_apply(variant, p)
    channel_axis = p.channel_axis

    def function(x: Any, weight: Any) -> Any:
        _reject_symbolic(variant, x, "PReLU")
        x, _ = _as_tensor(variant, x)
        check_keras_framework(variant, weight, "weight")
        if not K.is_tensor(weight) and not isinstance(weight, keras.Variable):
            weight = K.convert_to_tensor(weight)
        shape = prelu_weight_shape(variant, tuple(x.shape), tuple(weight.shape), channel_axis)
        return apply(x, K.reshape(weight, shape))

    return _named(function, variant)


def _bind_rrelu_training(variant: Variant, p: BoundParams) -> Callable[..., Any]:
    kernel = _random_slope_kernel(variant, p)
    lower, upper = p.lower, p.upper

    def function(x: Any, seed: Any = None) -> Any:
        """Apply RReLU with one slope per element drawn from U(lower, upper).

        ``seed`` is an int, a ``keras.random.SeedGenerator`` or None, as in
        ``keras.random.uniform``; the gradient uses the same draw.
        """
        _reject_symbolic(variant, x, "RReLU")
        x, name = _as_tensor(variant, x)
        compute = _compute_dtype(name)
        slope = keras.random.uniform(K.shape(x), lower, upper, dtype=compute, seed=seed)
        return _run(kernel, x, name, slope)

    return _named(function, variant)


def _named(function: Callable[..., Any], variant: Variant) -> Callable[..., Any]:
    function.__name__ = variant.name
    function.__qualname__ = variant.name
    function.__doc__ = variant.doc()
    return function
