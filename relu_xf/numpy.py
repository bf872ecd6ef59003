"""NumPy backend and the float64 reference that every parity test compares against.

Each function computes in float64, whatever the input's float dtype, and
casts the result back to that dtype, so its error is one rounding at most
beyond the formula's own float64 error. Gradients come from the spec's
analytic derivatives, not from finite differences.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._adapter import (
    check_dtype,
    check_framework,
    check_weight_dtype,
    make_functions,
    normalize_axis,
    prelu_weight_shape,
)
from ._ops import NumpyOps
from ._spec import BoundParams, Variant
from ._variants import PRELU_WEIGHT_DERIVATIVE

__all__ = ["bind", "dtype_name", "reference_gradient", "reference_value"]

OPS = NumpyOps()


def dtype_name(dtype: Any) -> str:
    """Return the canonical name of a NumPy dtype ('bfloat16' for ml_dtypes' type)."""
    return np.dtype(dtype).name


def _as_input(variant: Variant, x: Any) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        check_framework(variant, x, "numpy")
    array = np.asarray(x)
    check_dtype(variant, dtype_name(array.dtype), "numpy")
    return array


def _float64(variant: Variant, x: np.ndarray, p: BoundParams) -> np.ndarray:
    if not variant.elementwise and x.ndim == 0:
        raise ValueError(f"{variant.name}: input must have at least one dimension; got a scalar.")
    if variant.name == "crelu":
        normalize_axis(variant, p.axis, x.ndim)
    return x.astype(np.float64)


def _as_weight(variant: Variant, weight: Any) -> np.ndarray:
    """Return the PReLU weight as an array; Python numbers and lists become float slopes."""
    if isinstance(weight, (np.ndarray, np.generic)):
        check_weight_dtype(variant, dtype_name(weight.dtype), "numpy")
        return np.asarray(weight)
    check_framework(variant, weight, "numpy", "weight")
    return np.asarray(weight, dtype=np.float64)


def _weight(variant: Variant, x: np.ndarray, weight: Any, p: BoundParams) -> np.ndarray:
    weight = _as_weight(variant, weight)
    shape = prelu_weight_shape(variant, x.shape, weight.shape, p.channel_axis)
    return weight.astype(np.float64).reshape(shape)


def _cast(values: np.ndarray, dtype: Any) -> np.ndarray:
    # Overflow to infinity in the cast is the correctly rounded result.
    with np.errstate(over="ignore"):
        return values.astype(dtype)


def reference_value(variant: Variant, p: BoundParams, x: np.ndarray, *tensors: Any) -> np.ndarray:
    """Return the variant's output in float64 for a float64 input."""
    with np.errstate(all="ignore"):
        return np.asarray(variant.forward(OPS, x, p, *tensors), dtype=np.float64)


def reference_gradient(
    variant: Variant, p: BoundParams, x: np.ndarray, *tensors: Any
) -> np.ndarray:
    """Return the gradient of ``sum(variant(x))`` with respect to ``x``, in float64."""
    with np.errstate(all="ignore"):
        d = variant.derivative(OPS, x, p, *tensors)
        return np.broadcast_to(np.asarray(d, dtype=np.float64), x.shape).copy()


def bind(variant: Variant, p: BoundParams) -> Callable[..., Any]:
    """Return a NumPy function of ``x`` for one variant and validated parameters.

    The function has a ``gradient`` attribute with the same signature that
    returns the gradient of ``sum(f(x))`` with respect to ``x``.
    """
    if variant.learnable:

        def function(x: Any, weight: Any) -> np.ndarray:
            x = _as_input(variant, x)
            w = _weight(variant, x, weight, p)
            return _cast(reference_value(variant, p, _float64(variant, x, p), w), x.dtype)

        def gradient(x: Any, weight: Any) -> np.ndarray:
            x = _as_input(variant, x)
            w = _weight(variant, x, weight, p)
            return _cast(reference_gradient(variant, p, _float64(variant, x, p), w), x.dtype)

        def weight_gradient(x: Any, weight: Any) -> np.ndarray:
            x = _as_input(variant, x)
            weight = _as_weight(variant, weight)
            w = _weight(variant, x, weight, p)
            with np.errstate(all="ignore"):
                per_element = PRELU_WEIGHT_DERIVATIVE(OPS, _float64(variant, x, p), p, w)
            axes = tuple(i for i, n in enumerate(w.shape) if n == 1)
            if w.size == 1:
                axes = tuple(range(x.ndim))
            total = np.sum(per_element, axis=axes)
            return total.reshape(weight.shape).astype(weight.dtype)

        function.weight_gradient = weight_gradient  # type: ignore[attr-defined]

    elif variant.random:

        def function(x: Any, rng: np.random.Generator | None = None) -> np.ndarray:  # type: ignore[misc]
            x = _as_input(variant, x)
            return _cast(
                reference_value(variant, p, _float64(variant, x, p), *_noise(x, rng)), x.dtype
            )

        def gradient(x: Any, rng: np.random.Generator | None = None) -> np.ndarray:  # type: ignore[misc]
            x = _as_input(variant, x)
            return _cast(
                reference_gradient(variant, p, _float64(variant, x, p), *_noise(x, rng)), x.dtype
            )

        def _noise(x: np.ndarray, rng: np.random.Generator | None) -> tuple[Any, ...]:
            if not p.training:
                return ()
            generator = rng if rng is not None else np.random.default_rng()
            return (generator.uniform(p.lower, p.upper, size=x.shape),)

    else:

        def function(x: Any) -> np.ndarray:  # type: ignore[misc]
            x = _as_input(variant, x)
            return _cast(reference_value(variant, p, _float64(variant, x, p)), x.dtype)

        def gradient(x: Any) -> np.ndarray:  # type: ignore[misc]
            x = _as_input(variant, x)
            return _cast(reference_gradient(variant, p, _float64(variant, x, p)), x.dtype)

    function.__name__ = variant.name
    function.__doc__ = variant.doc()
    function.gradient = gradient  # type: ignore[attr-defined]
    return function


globals().update(make_functions(bind, "numpy"))

PARITY_MODES = ("eager",)


def _numpy_dtype(dtype: str) -> Any:
    if dtype != "bfloat16":
        return np.dtype(dtype)
    try:
        import ml_dtypes
    except ImportError:
        from .parity import Unsupported

        raise Unsupported("NumPy has no bfloat16 dtype; install ml_dtypes to add it") from None
    return np.dtype(ml_dtypes.bfloat16)


def evaluate(
    mode: str, variant: Variant, p: BoundParams, x: np.ndarray, dtype: str, weight: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Run the NumPy backend for the parity harness; see ``relu_xf.parity``."""
    function = bind(variant, p)
    xs = x.astype(_numpy_dtype(dtype))
    args = (weight,) if weight is not None else ()
    y = function(xs, *args)
    g = function.gradient(xs, *args)  # type: ignore[attr-defined]
    return y.astype(np.float64), g.astype(np.float64)
