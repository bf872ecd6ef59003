"""Helpers shared by the backend adapters: input rules and public namespaces.

Every check here reads only shapes, dtypes and Python values, so it runs
before any tensor work and costs no kernel launch.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from ._registry import framework_of, resolve_backend
from ._spec import BoundParams, Variant
from ._variants import VARIANTS

__all__ = [
    "FLOAT_DTYPES",
    "check_dtype",
    "check_framework",
    "check_weight_dtype",
    "make_functions",
    "normalize_axis",
    "prelu_weight_shape",
]

FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


def check_dtype(variant: Variant, dtype_name: str, backend: str) -> None:
    """Raise TypeError unless ``dtype_name`` is one of the supported float dtypes.

    Integer, bool and complex inputs are rejected on every backend alike, since
    the frameworks disagree on how they would promote.
    """
    if dtype_name not in FLOAT_DTYPES:
        raise TypeError(
            f"{variant.name} ({backend}): input dtype {dtype_name} is not supported; "
            f"inputs must be one of {', '.join(FLOAT_DTYPES)}. "
            "Cast the input to a floating dtype first, for example float32."
        )


def check_weight_dtype(variant: Variant, dtype_name: str, backend: str) -> None:
    """Raise TypeError unless a PReLU weight's dtype is one of the supported float dtypes."""
    if dtype_name not in FLOAT_DTYPES:
        raise TypeError(
            f"{variant.name} ({backend}): weight dtype {dtype_name} is not supported; "
            f"the weight must be one of {', '.join(FLOAT_DTYPES)}. "
            "Cast the weight to a floating dtype first, for example float32."
        )


def check_framework(variant: Variant, x: Any, backend: str, argument: str = "input") -> None:
    """Raise TypeError when ``x`` is a tensor of a framework other than ``backend``'s.

    NumPy arrays, Python scalars and lists pass, because every backend but
    torch converts array-likes the way its own ops do. Keras objects pass, so
    that a Keras variable reaches the framework that Keras runs on. A torch,
    TensorFlow or JAX tensor given to another backend is rejected: converting
    it would copy it through host memory and drop its gradient tape.
    """
    source = framework_of(x)
    if source is None or source.name in (backend, "numpy", "keras"):
        return
    target = resolve_backend(backend)
    kind = f"{type(x).__module__}.{type(x).__qualname__}"
    raise TypeError(
        f"{variant.name} ({backend}): the {argument} is a {source.framework_label} tensor "
        f"({kind}), but the {backend} backend takes {target.framework_label} tensors and "
        f"does not convert tensors of another framework. Call relu_xf.{source.name}."
        f"{variant.name} (or relu_xf.apply, which picks the backend from the input), or "
        f"convert the {argument} to {target.framework_label} first."
    )


def normalize_axis(variant: Variant, axis: int, ndim: int, name: str = "axis") -> int:
    """Return ``axis`` as a non-negative index into ``ndim`` dimensions, or raise ValueError."""
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"{variant.name}: {name}={axis} is out of range for an input with {ndim} "
            f"dimension{'s' if ndim != 1 else ''}; {name} must be in [{-ndim}, {ndim - 1}]."
        )
    return axis % ndim


def prelu_weight_shape(
    variant: Variant, x_shape: tuple[int, ...], weight_shape: tuple[int, ...], axis: int
) -> tuple[int, ...]:
    """Return the shape that broadcasts a PReLU weight along ``axis`` of the input.

    A weight with one element applies to every channel. Otherwise the weight
    must be 1-D with one entry per channel along ``axis``.
    """
    size = 1
    for dim in weight_shape:
        size *= dim
    ndim = len(x_shape)
    if size == 1:
        return (1,) * ndim if ndim else ()
    if len(weight_shape) != 1:
        raise ValueError(
            f"{variant.name}: weight of shape {tuple(weight_shape)} is invalid; the weight must be "
            "1-D with one slope per channel, or hold a single slope."
        )
    axis = normalize_axis(variant, axis, ndim, "channel_axis")
    if x_shape[axis] != weight_shape[0]:
        raise ValueError(
            f"{variant.name}: weight has {weight_shape[0]} slopes but the input has "
            f"{x_shape[axis]} channels along channel_axis={axis} (input shape {tuple(x_shape)}). "
            "Give one slope per channel, or set channel_axis to the channel dimension."
        )
    shape = [1] * ndim
    shape[axis] = weight_shape[0]
    return tuple(shape)


def make_functions(
    bind: Callable[[Variant, BoundParams], Callable[..., Any]], backend: str
) -> dict[str, Callable[..., Any]]:
    """Build one public function per variant, like ``torch.nn.functional``.

    Each function validates its parameters, then caches the bound native
    function per parameter set, so repeated calls skip validation.
    """
    functions: dict[str, Callable[..., Any]] = {}
    for variant in VARIANTS:
        functions[variant.name] = _make_function(variant, bind, backend)
    return functions


@functools.lru_cache(maxsize=256)
def _call_options(fn: Callable[..., Any]) -> tuple[str, ...]:
    """Return the keyword arguments a bound function takes besides the tensors."""
    parameters = list(inspect.signature(fn).parameters.values())
    return tuple(p.name for p in parameters[1:] if p.kind is not inspect.Parameter.VAR_POSITIONAL)


def _check_call_options(variant: Variant, fn: Callable[..., Any], kwargs: dict[str, Any]) -> None:
    """Raise TypeError for a keyword that is neither a parameter nor a call option of ``fn``."""
    options = _call_options(fn)
    unknown = sorted(set(kwargs) - set(options))
    if unknown:
        names = [p.name for p in variant.params]
        accepted = ", ".join(names) if names else "no parameters"
        calls = f" and the call options {', '.join(options)}" if options else ""
        raise TypeError(
            f"{variant.name}: unexpected parameter {unknown[0]}={kwargs[unknown[0]]!r}; "
            f"{variant.name} accepts {accepted}{calls}."
        )


def _make_function(
    variant: Variant, bind: Callable[[Variant, BoundParams], Callable[..., Any]], backend: str
) -> Callable[..., Any]:
    @functools.lru_cache(maxsize=64)
    def bound(items: tuple[tuple[str, Any], ...]) -> Callable[..., Any]:
        return bind(variant, variant.bind(**dict(items)))

    names = [p.name for p in variant.params]

    def function(x: Any, *tensors: Any, **kwargs: Any) -> Any:
        params = {k: kwargs.pop(k) for k in names if k in kwargs}
        try:
            fn = bound(tuple(sorted(params.items())))
        except TypeError as error:
            if "unhashable" not in str(error):
                raise
            fn = bind(variant, variant.bind(**params))
        if kwargs:
            _check_call_options(variant, fn, kwargs)
        return fn(x, *tensors, **kwargs)

    function.__name__ = variant.name
    function.__qualname__ = variant.name
    function.__doc__ = variant.doc()
    parameters = [inspect.Parameter("x", inspect.Parameter.POSITIONAL_ONLY)]
    if variant.learnable:
        parameters += [
            inspect.Parameter(n, inspect.Parameter.POSITIONAL_ONLY) for n in variant.learnable
        ]
    parameters += [
        inspect.Parameter(p.name, inspect.Parameter.KEYWORD_ONLY, default=p.default)
        for p in variant.params
    ]
    function.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    function.__module__ = f"relu_xf.{backend}"
    return function
