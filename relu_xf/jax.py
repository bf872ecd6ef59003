"""JAX backend: every variant as a jit-compiled function with a custom JVP.

``bind`` returns a ``jax.jit`` function whose value comes from the spec's
``forward`` and whose derivative comes from the spec's ``derivative`` through
``jax.custom_jvp``. JAX's own rules differ from the contract at breakpoints
(``jax.nn.leaky_relu`` has derivative 1 at 0), at NaN and at +-inf, so no
variant uses them. The functions compose with ``jax.grad``, ``jax.jvp``,
``jax.vmap`` and an outer ``jax.jit``.

Dtype checks read only ``x.dtype``, so they run when JAX traces the function
and raise TypeError before any computation. float16 and bfloat16 inputs are
computed in float32 and rounded back once. float64 needs JAX's x64 mode,
which this module never switches on. The caller enables it, for example with
``jax.enable_x64(True)`` as a context manager. JAX 0.10.2 has no
``jax.experimental.enable_x64``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero
from jax.scipy.special import erfc as _jax_erfc

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

__all__ = ["OPS", "PARITY_MODES", "JaxOps", "bind", "evaluate"]

_HALF_DTYPES = ("float16", "bfloat16")


class JaxOps(Ops):
    """The spec vocabulary in ``jax.numpy``, usable inside ``jax.jit``."""

    def where(self, condition: Any, a: Any, b: Any) -> Any:
        return jnp.where(condition, a, b)

    def maximum(self, a: Any, b: Any) -> Any:
        return jnp.maximum(a, b)

    def minimum(self, a: Any, b: Any) -> Any:
        return jnp.minimum(a, b)

    def abs(self, x: Any) -> Any:
        return jnp.abs(x)

    def exp(self, x: Any) -> Any:
        return jnp.exp(x)

    def expm1(self, x: Any) -> Any:
        """Compute exp(x) - 1 as (u - 1) * x / log(u) with u = exp(x) (Kahan's method).

        XLA's expm1 on CPU (jaxlib 0.10.2) measured up to 5 ULPs off in float32
        and 6 in float64 for x in [-1, 0]. This form measured at most 2, because
        the rounding error of u cancels between u - 1 and log(u). The optimization
        barrier stops XLA from simplifying log(exp(x)) back to x, which would
        undo the cancellation.
        """
        u = jnp.exp(x)
        u_minus_1 = u - 1.0
        log_u = jnp.log(jax.lax.optimization_barrier(u))
        # u == 1 when |x| is below half an ULP of 1, where expm1(x) rounds to x.
        near_zero = (u_minus_1 == 0.0) | (log_u == 0.0)
        result = u_minus_1 * (x / jnp.where(near_zero, 1.0, log_u))
        result = jnp.where(near_zero, x, result)
        result = jnp.where(u_minus_1 == -1.0, -1.0, result)
        # exp overflowed: the limit is +inf, where the quotient would be inf * 0.
        return jnp.where(jnp.isposinf(u), u, result)

    def log1p(self, x: Any) -> Any:
        return jnp.log1p(x)

    def tanh(self, x: Any) -> Any:
        return jnp.tanh(x)

    def erfc(self, x: Any) -> Any:
        return _jax_erfc(x)

    def sigmoid(self, x: Any) -> Any:
        return jax.nn.sigmoid(x)

    def isnan(self, x: Any) -> Any:
        return jnp.isnan(x)

    def isneginf(self, x: Any) -> Any:
        return jnp.isneginf(x)

    def concatenate(self, arrays: Sequence[Any], axis: int) -> Any:
        return jnp.concatenate(list(arrays), axis=axis)


OPS = JaxOps()


# Input rules -------------------------------------------------------------------


def _as_input(variant: Variant, x: Any) -> jax.Array:
    """Return ``x`` as a JAX array after checking that its dtype is a supported float."""
    x = jnp.asarray(x)
    check_dtype(variant, jnp.dtype(x.dtype).name, "jax")
    return x


def _compute_dtype(dtype: Any) -> Any:
    """Return float32 for the 16-bit float dtypes and ``dtype`` itself otherwise."""
    if jnp.dtype(dtype).name in _HALF_DTYPES:
        return jnp.float32
    return dtype


def _like(values: Any, x: jax.Array) -> jax.Array:
    """Return ``values`` with the dtype and shape of ``x``.

    Formulas may return a Python float or a weakly typed array for a constant
    branch, and the custom JVP rule needs tangents of exactly the primal's type.
    """
    return jnp.broadcast_to(jnp.asarray(values).astype(x.dtype), x.shape)


def _is_zero(tangent: Any) -> bool:
    return isinstance(tangent, SymbolicZero)


# Custom-gradient cores ---------------------------------------------------------
# Each core works in one dtype, the compute dtype, and _run casts around it.


def _elementwise_core(variant: Variant, p: BoundParams) -> Callable[[jax.Array], jax.Array]:
    """Return ``variant`` as a function of ``x`` whose JVP is ``derivative(x) * t``."""

    @jax.custom_jvp
    def core(x: jax.Array) -> jax.Array:
        return _like(variant.forward(OPS, x, p), x)

    @core.defjvp
    def core_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
        (x,), (t,) = primals, tangents
        y = _like(variant.forward(OPS, x, p), x)
        d = _like(variant.derivative(OPS, x, p), x)
        return y, d * t

    return core  # type: ignore[no-any-return]


def _tensor_core(variant: Variant, p: BoundParams) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """Return ``variant`` as a function of ``x`` and a slope tensor ``a`` that broadcasts to x.

    Both prelu and rrelu in training compute ``where(x <= 0, a * x, x)``, so
    the derivative with respect to ``a`` is ``where(x <= 0, x, 0)`` for both.
    Symbolic zeros let the rule skip a tangent that is not being
    differentiated. At x = -inf the slope term is -inf, and -inf times an
    instantiated zero slope tangent would make ``jax.jvp`` in x return NaN.
    """

    @jax.custom_jvp
    def core(x: jax.Array, a: jax.Array) -> jax.Array:
        return _like(variant.forward(OPS, x, p, a), x)

    def core_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
        (x, a), (tx, ta) = primals, tangents
        y = _like(variant.forward(OPS, x, p, a), x)
        tangent = jnp.zeros_like(y)
        if not _is_zero(tx):
            tangent = tangent + _like(variant.derivative(OPS, x, p, a), x) * tx
        if not _is_zero(ta):
            tangent = tangent + _like(PRELU_WEIGHT_DERIVATIVE(OPS, x, p, a), x) * ta
        return y, tangent

    core.defjvp(core_jvp, symbolic_zeros=True)
    return core  # type: ignore[no-any-return]


def _run(core: Callable[..., jax.Array], x: jax.Array, *tensors: jax.Array) -> jax.Array:
    """Apply ``core`` in the compute dtype of ``x`` and return the result in x's dtype."""
    compute = _compute_dtype(x.dtype)
    args = [t.astype(compute) for t in tensors]
    if compute == x.dtype:
        return core(x, *args)
    return core(x.astype(compute), *args).astype(x.dtype)


_RELU_CORE = _elementwise_core(RELU, RELU.bind())


# Binding -----------------------------------------------------------------------


def _finish(variant: Variant, function: Callable[..., Any]) -> Callable[..., Any]:
    """Return ``jax.jit(function)`` behind a check of the argument types.

    jax.jit rejects a torch or TensorFlow tensor with a message that names
    neither relu_xf nor the fix, so the check runs before jit receives the
    arguments. The wrapper keeps jit's ``lower``, ``trace`` and ``eval_shape``;
    jax.export needs a jit object, so export ``jax.jit(f)``.
    """
    function.__name__ = variant.name
    function.__qualname__ = variant.name
    function.__doc__ = variant.doc()
    jitted = jax.jit(function)
    learnable = bool(variant.learnable)

    def checked(x: Any, *args: Any, **kwargs: Any) -> jax.Array:
        # jax.Array covers tracers too, so the check costs one isinstance under jit.
        if not isinstance(x, jax.Array):
            check_framework(variant, x, "jax")
        if learnable and args and not isinstance(args[0], jax.Array):
            weight = args[0]
            check_framework(variant, weight, "jax", "weight")
            if isinstance(weight, (int, float, list, tuple)):
                # Python numbers and lists are slopes, so they convert to a float dtype.
                weight = np.asarray(weight, dtype=np.float64)
            args = (weight, *args[1:])
        return jitted(x, *args, **kwargs)

    functools.update_wrapper(checked, function)
    checked.lower = jitted.lower  # type: ignore[attr-defined]
    checked.trace = jitted.trace  # type: ignore[attr-defined]
    checked.eval_shape = jitted.eval_shape  # type: ignore[attr-defined]
    return checked


def _bind_prelu(variant: Variant, p: BoundParams) -> Callable[..., Any]:
    core = _tensor_core(variant, p)

    def prelu(x: Any, weight: Any) -> jax.Array:
        x = _as_input(variant, x)
        weight = jnp.asarray(weight)
        check_weight_dtype(variant, jnp.dtype(weight.dtype).name, "jax")
        shape = prelu_weight_shape(variant, x.shape, weight.shape, p.channel_axis)
        return _run(core, x, weight.reshape(shape))

    return _finish(variant, prelu)


def _bind_rrelu(variant: Variant, p: BoundParams) -> Callable[..., Any]:
    if not p.training:
        mean_slope = _elementwise_core(variant, p)

        def rrelu(x: Any, key: Any = None) -> jax.Array:
            x = _as_input(variant, x)
            return _run(mean_slope, x)

        return _finish(variant, rrelu)

    core = _tensor_core(variant, p)

    def rrelu_training(x: Any, key: Any = None) -> jax.Array:
        x = _as_input(variant, x)
        if key is None:
            raise TypeError(
                "rrelu (jax): training=True draws random slopes and needs a PRNG key, but key "
                "is missing. Pass key=jax.random.key(seed), or use training=False for the "
                f"fixed slope (lower + upper) / 2 = {(p.lower + p.upper) / 2.0!r}."
            )
        slope = jax.random.uniform(
            key, x.shape, dtype=_compute_dtype(x.dtype), minval=p.lower, maxval=p.upper
        )
        return _run(core, x, slope)

    return _finish(variant, rrelu_training)


def _bind_crelu(variant: Variant, p: BoundParams) -> Callable[..., Any]:
    def crelu(x: Any) -> jax.Array:
        x = _as_input(variant, x)
        if x.ndim == 0:
            raise ValueError(
                "crelu: input must have at least one dimension to concatenate along; got a "
                "scalar. Reshape it to shape (1,) first."
            )
        axis = normalize_axis(variant, p.axis, x.ndim)
        # Building on the custom-gradient relu makes any upstream gradient right,
        # not only the gradient of the sum that the spec's derivative describes.
        return jnp.concatenate([_run(_RELU_CORE, x), _run(_RELU_CORE, -x)], axis=axis)

    return _finish(variant, crelu)


def bind(variant: Variant, p: BoundParams) -> Callable[..., Any]:
    """Return a jit-compiled JAX function for one variant and validated parameters.

    Signatures of the returned function: ``f(x)`` for most variants,
    ``f(x, weight)`` for prelu, and ``f(x, key=None)`` for rrelu, where
    ``key`` is a ``jax.random`` key that rrelu with ``training=True`` requires.

    The function raises TypeError for an input dtype other than float16,
    bfloat16, float32 or float64, TypeError for rrelu in training without a
    key, and ValueError for an invalid crelu axis or prelu weight shape.
    """
    if variant.learnable:
        return _bind_prelu(variant, p)
    if variant.random:
        return _bind_rrelu(variant, p)
    if variant.name == "crelu":
        return _bind_crelu(variant, p)
    core = _elementwise_core(variant, p)

    def function(x: Any) -> jax.Array:
        x = _as_input(variant, x)
        return _run(core, x)

    return _finish(variant, function)


_FUNCTIONS = make_functions(bind, "jax")
globals().update(_FUNCTIONS)
__all__ += list(_FUNCTIONS)

if TYPE_CHECKING:
    # Tells type checkers that the per-variant functions above exist as module attributes.
    def __getattr__(name: str) -> Callable[..., Any]: ...


# Parity harness ----------------------------------------------------------------

PARITY_MODES = ("eager", "compiled")


def _jax_dtype(dtype: str) -> Any:
    return jnp.bfloat16 if dtype == "bfloat16" else jnp.dtype(dtype)


def _evaluate(
    mode: str, variant: Variant, p: BoundParams, x: np.ndarray, dtype: str, weight: Any
) -> tuple[np.ndarray, np.ndarray]:
    function = bind(variant, p)
    jax_dtype = _jax_dtype(dtype)
    xs = jnp.asarray(x.astype(jax_dtype))
    args = (jnp.asarray(np.asarray(weight).astype(jax_dtype)),) if weight is not None else ()

    def value(x: jax.Array) -> jax.Array:
        return function(x, *args)

    def value_and_gradient(x: jax.Array) -> tuple[jax.Array, jax.Array]:
        return value(x), jax.grad(lambda x: jnp.sum(value(x)))(x)

    if mode == "compiled":
        value_and_gradient = jax.jit(value_and_gradient)
    elif mode != "eager":
        raise ValueError(f"unknown parity mode {mode!r}. The jax backend runs {PARITY_MODES}.")
    y, g = value_and_gradient(xs)
    return np.asarray(y, dtype=np.float64), np.asarray(g, dtype=np.float64)


def evaluate(
    mode: str, variant: Variant, p: BoundParams, x: np.ndarray, dtype: str, weight: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Run the JAX backend for the parity harness; see ``relu_xf.parity``.

    ``"eager"`` calls the bound function and ``jax.grad`` of its sum directly,
    ``"compiled"`` wraps both in one outer ``jax.jit``. float64 runs inside
    ``jax.enable_x64(True)``, which is restored on exit.
    """
    if dtype == "float64":
        with jax.enable_x64(True):
            return _evaluate(mode, variant, p, x, dtype, weight)
    return _evaluate(mode, variant, p, x, dtype, weight)
