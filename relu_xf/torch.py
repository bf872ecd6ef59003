"""PyTorch backend: functions and ``nn.Module`` classes for every variant.

Forward values use torch's own fused kernels wherever the parity harness shows
they match the contract, some behind a clamp that keeps -inf and overflow out of
the kernel (see ``_native_forward``). Gradients go through a custom
``torch.autograd.Function``, because torch's autograd disagrees with the
contract at NaN (leaky_relu's gradient there is the slope), at -inf (silu, gelu
and mish give NaN) and at hardswish's breakpoint 3. Its backward calls torch's
own backward kernels where they take the spec's branch at every breakpoint and
evaluates the spec's derivative otherwise. When no gradient is recorded the
custom function is skipped, so inference runs the native kernel alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from . import _variants as spec
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
from ._variants import PRELU_INIT, SELU_ALPHA, SELU_SCALE

__all__ = [
    "CELU",
    "CReLU",
    "ELU",
    "GELU",
    "HardSigmoid",
    "HardSwish",
    "LeakyReLU",
    "Mish",
    "PReLU",
    "RReLU",
    "ReLU",
    "ReLU6",
    "SELU",
    "SiLU",
    "Softplus",
    "SquaredReLU",
    "ThresholdedReLU",
    "bind",
    "make_layer",
]

_HALF = (torch.float16, torch.bfloat16)
_DTYPE_NAMES = {
    torch.float16: "float16",
    torch.bfloat16: "bfloat16",
    torch.float32: "float32",
    torch.float64: "float64",
}


class TorchOps(Ops):
    """The spec vocabulary in torch ops, computing in one float dtype."""

    def __init__(self, dtype: torch.dtype) -> None:
        self.dtype = dtype

    def where(self, condition: Any, a: Any, b: Any) -> Any:
        if not isinstance(a, torch.Tensor) and not isinstance(b, torch.Tensor):
            # torch.where of two Python scalars returns the default dtype, so one
            # branch becomes a 0-d tensor of the formula's dtype.
            a = torch.tensor(a, dtype=self.dtype, device=condition.device)
        return torch.where(condition, a, b)

    def maximum(self, a: Any, b: Any) -> Any:
        return torch.clamp_min(a, b) if not isinstance(b, torch.Tensor) else torch.maximum(a, b)

    def minimum(self, a: Any, b: Any) -> Any:
        return torch.clamp_max(a, b) if not isinstance(b, torch.Tensor) else torch.minimum(a, b)

    def abs(self, x: Any) -> Any:
        return torch.abs(x)

    def exp(self, x: Any) -> Any:
        return torch.exp(x)

    def expm1(self, x: Any) -> Any:
        if _inductor_compiling():
            # TorchInductor's vectorized CPU expm1 is exp(x) - 1 in torch 2.13: it returns 0
            # for float32 |x| < 6e-8. The identity expm1(x) = tanh(x / 2) * (exp(x) + 1)
            # has no cancellation and measured within 1.5 ULPs in float32.
            return torch.tanh(x * 0.5) * (torch.exp(x) + 1.0)
        return torch.expm1(x)

    def log1p(self, x: Any) -> Any:
        return torch.log1p(x)

    def tanh(self, x: Any) -> Any:
        return torch.tanh(x)

    def erfc(self, x: Any) -> Any:
        return torch.erfc(x)

    def sigmoid(self, x: Any) -> Any:
        return torch.sigmoid(x)

    def isnan(self, x: Any) -> Any:
        return torch.isnan(x)

    def isneginf(self, x: Any) -> Any:
        return torch.isneginf(x)

    def concatenate(self, arrays: Any, axis: int) -> Any:
        return torch.cat(list(arrays), dim=axis)


def _inductor_compiling() -> bool:
    """Return True under torch.compile, where TorchInductor generates the kernels.

    torch.export also reports is_compiling(), but an exported program runs
    torch's eager kernels, so it keeps the eager forms and the eager values.
    """
    return torch.compiler.is_compiling() and not torch.compiler.is_exporting()


_OPS = {dtype: TorchOps(dtype) for dtype in (torch.float32, torch.float64)}


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    return torch.float32 if x.dtype in _HALF else x.dtype


def _evaluate(
    formula: Callable[..., Any], x: torch.Tensor, p: BoundParams, *tensors: Any
) -> torch.Tensor:
    """Evaluate a spec formula in float32 (for 16-bit inputs) or the input's dtype."""
    dtype = _compute_dtype(x)
    ops = _OPS[dtype]
    upcast = [t.to(dtype) if isinstance(t, torch.Tensor) else t for t in tensors]
    return formula(ops, x.to(dtype), p, *upcast).to(x.dtype)  # type: ignore[no-any-return]


def _check(variant: Variant, x: Any) -> None:
    if not isinstance(x, torch.Tensor):
        check_framework(variant, x, "torch")
        raise TypeError(
            f"{variant.name} (torch): expected a torch.Tensor, got {type(x).__module__}."
            f"{type(x).__qualname__}. Convert it with torch.as_tensor, or use the backend "
            "that matches the input's framework."
        )
    name = _DTYPE_NAMES.get(x.dtype)
    if name is None:
        check_dtype(variant, str(x.dtype).replace("torch.", ""), "torch")


def _records_grad(x: torch.Tensor, weight: torch.Tensor | None = None) -> bool:
    """Return True when autograd records this call, so the custom gradient is needed.

    torch.jit.trace records a custom autograd.Function as a Python call that
    cannot be saved, so traced graphs get the forward ops alone.
    """
    needs_grad = x.requires_grad or (weight is not None and weight.requires_grad)
    return needs_grad and torch.is_grad_enabled() and not torch.jit.is_tracing()


class _Elementwise(torch.autograd.Function):
    """Native or composed forward; backward ``backward(grad, x, *extra)`` with the spec's derivative."""

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        forward: Callable[..., Any],
        backward: Callable[..., Any],
        *extra: Any,
    ) -> torch.Tensor:  # type: ignore[override]
        ctx.backward_function = backward
        ctx.extra = extra
        ctx.save_for_backward(x)
        return forward(x, *extra)  # type: ignore[no-any-return]

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Any:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        grad_x = ctx.backward_function(grad, x, *ctx.extra)
        return (grad_x, None, None) + (None,) * len(ctx.extra)


class _InplaceFromOutput(torch.autograd.Function):
    """In-place forward whose gradient is recovered from the output it wrote."""

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        forward_: Callable[..., Any],
        derivative_from_output: Callable[..., Any],
    ) -> torch.Tensor:  # type: ignore[override]
        forward_(x)
        ctx.mark_dirty(x)
        ctx.derivative = derivative_from_output
        ctx.save_for_backward(x)
        return x

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Any:  # type: ignore[override]
        (y,) = ctx.saved_tensors
        return grad * ctx.derivative(y), None, None


class _PReLUFunction(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, weight: torch.Tensor, shape: tuple[int, ...], p: BoundParams
    ) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x, weight)
        ctx.shape = shape
        ctx.p = p
        return _prelu_forward(x, weight, shape, p)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Any:  # type: ignore[override]
        x, weight = ctx.saved_tensors
        w = weight.reshape(ctx.shape) if ctx.shape else weight.reshape(())
        grad_x = grad * _evaluate(spec.PRELU.derivative, x, ctx.p, w)
        per_element = grad * torch.where(x <= 0, x, torch.zeros((), dtype=x.dtype, device=x.device))
        if weight.numel() == 1:
            grad_w = per_element.sum().reshape(weight.shape)
        else:
            axes = [i for i, n in enumerate(ctx.shape) if n == 1]
            grad_w = (
                per_element.sum(dim=axes).reshape(weight.shape)
                if axes
                else per_element.reshape(weight.shape)
            )
        return grad_x, grad_w.to(weight.dtype), None, None


def _prelu_forward(
    x: torch.Tensor, weight: torch.Tensor, shape: tuple[int, ...], p: BoundParams
) -> torch.Tensor:
    if p.channel_axis == 1 or weight.numel() == 1:
        return F.prelu(
            x, weight.reshape(-1).to(x.dtype) if x.ndim > 0 else weight.reshape(()).to(x.dtype)
        )
    return torch.where(x <= 0, x * weight.reshape(shape).to(x.dtype), x)


_EXP_FAMILY = ("elu", "selu", "celu")


def _native_forward(
    variant: Variant, p: BoundParams
) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """Return torch's fused kernel for a variant when it matches the contract, else None."""
    name = variant.name
    if name == "relu":
        if p.negative_slope == 0 and p.threshold == 0 and p.max_value is None:
            return torch.relu
        if p.negative_slope == 0 and p.threshold == 0 and p.max_value == 6:
            return F.relu6
        return None
    if name == "leaky_relu":
        slope = p.negative_slope
        return lambda x: F.leaky_relu(x, slope)
    if name == "rrelu" and not p.training:
        slope = (p.lower + p.upper) / 2
        return lambda x: F.leaky_relu(x, slope)
    if name == "elu":
        alpha = p.alpha
        return lambda x: F.elu(x, alpha)
    if name == "selu":
        return F.selu
    if name == "celu":
        alpha = p.alpha
        return lambda x: F.celu(x, alpha)
    if name == "relu6":
        return F.relu6
    if name == "thresholded_relu":
        threshold = p.threshold
        return lambda x: F.threshold(x, threshold, 0.0)
    if name == "softplus":
        beta, threshold = p.beta, p.threshold
        return lambda x: F.softplus(x, beta, threshold)
    if name == "hard_sigmoid":
        return F.hardsigmoid
    if name == "hard_swish":
        # F.hardswish computes x * 6 / 6, which overflows to inf for x > max / 6, and
        # -inf * 0 at -inf. hardsigmoid(x) * max(x, -3) is the same function without
        # either, and adding 0 turns the -0 of x <= -3 into +0.
        return lambda x: F.hardsigmoid(x).mul_(torch.clamp(x, min=-3.0)).add_(0.0)
    if name == "squared_relu":
        return lambda x: torch.relu(x).square_()
    if name == "mish":
        return lambda x: F.mish(_finite_below(x))
    if name == "silu" and p.beta == 1.0:
        return lambda x: F.silu(_finite_below(x))
    if name == "gelu" and p.approximate == "tanh":
        return lambda x: F.gelu(_finite_below(x), approximate="tanh")
    if name == "gelu":
        # The vectorized exact kernel returns NaN at +inf and overflows for x above
        # max / 2 (torch 2.13, AVX512 CPU). Above 40, gelu(x) == x in float64 and every
        # smaller dtype, so the kernel sees at most 40 and the excess is added back.
        return lambda x: F.gelu(torch.clamp(x, torch.finfo(x.dtype).min, _GELU_LINEAR)).add_(
            torch.clamp(x - _GELU_LINEAR, min=0.0)
        )
    return None


_GELU_LINEAR = 40.0
# Beyond this magnitude every derivative below has reached its limit in float64,
# and the kernels still compute x**3 and x * 0 without overflow.
_SATURATED = 1e4


def _finite_below(x: torch.Tensor) -> torch.Tensor:
    """Clamp -inf to the lowest finite value, where torch's silu, mish, hardswish and gelu
    kernels compute -inf * 0 = NaN; at the lowest finite value they return the limit 0."""
    return torch.clamp(x, min=torch.finfo(x.dtype).min)


def _saturate(x: torch.Tensor) -> torch.Tensor:
    return torch.clamp(x, -_SATURATED, _SATURATED)


def _with_nan_of(x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """Return ``grad`` with NaN where ``x`` is NaN, in two passes without bool tensors.

    clamp(x, 0, 0) is +-0 for every non-NaN x and NaN for NaN, so adding it leaves
    every other entry unchanged. Bool tensors are avoided because torch.where and
    isnan run about 10x slower than arithmetic on this kind of CPU (torch 2.13).
    """
    return grad.add_(torch.clamp(x, 0.0, 0.0))


def _native_backward(
    variant: Variant, p: BoundParams
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None:
    """Return torch's backward kernel as ``backward(grad, x)`` where it matches the spec.

    Each kernel takes the branch the spec takes at every breakpoint; the ones that
    pass the upstream gradient through at NaN get the NaN added afterwards.
    """
    name = variant.name
    aten = torch.ops.aten
    if name == "relu" and p.negative_slope == 0 and p.threshold == 0:
        cap = p.max_value
        if cap is None:
            return lambda g, x: _with_nan_of(x, aten.threshold_backward(g, x, 0.0))
        return lambda g, x: _with_nan_of(x, aten.hardtanh_backward(g, x, 0.0, cap))
    if name == "relu6":
        return lambda g, x: _with_nan_of(x, aten.hardtanh_backward(g, x, 0.0, 6.0))
    if name == "squared_relu":
        # 2 * relu(x) is NaN at NaN already, and arithmetic avoids bool tensors.
        return lambda g, x: torch.relu(x).mul_(2.0).mul_(g)
    if name in ("leaky_relu", "rrelu"):
        if name == "rrelu" and p.training:
            return None
        slope = p.negative_slope if name == "leaky_relu" else (p.lower + p.upper) / 2
        return lambda g, x: _with_nan_of(x, aten.leaky_relu_backward(g, x, slope, False))
    if name == "elu":
        alpha = p.alpha
        return lambda g, x: _with_nan_of(x, aten.elu_backward(g, alpha, 1.0, 1.0, False, x))
    if name == "selu":
        return lambda g, x: _with_nan_of(
            x, aten.elu_backward(g, SELU_ALPHA, SELU_SCALE, 1.0, False, x)
        )
    if name == "celu":
        alpha = p.alpha
        return lambda g, x: _with_nan_of(x, aten.elu_backward(g, alpha, 1.0, 1.0 / alpha, False, x))
    if name == "thresholded_relu":
        threshold = p.threshold
        return lambda g, x: _with_nan_of(x, aten.threshold_backward(g, x, threshold))
    if name == "hard_sigmoid":
        # hardsigmoid_backward scales by a float32 1/6, even for float64 input.
        return _except_float64(lambda g, x: _with_nan_of(x, aten.hardsigmoid_backward(g, x)))
    if name == "softplus":
        beta, threshold = p.beta, p.threshold
        return lambda g, x: aten.softplus_backward(g, x, beta, threshold)
    if name == "gelu" and p.approximate == "none":
        # The tanh form's gelu_backward misses the bound by up to 16 ULPs in its
        # tails (float32 and float64), so only the exact form uses the kernel.
        return lambda g, x: aten.gelu_backward(g, _saturate(x))
    if name == "silu" and p.beta == 1.0:
        # silu_backward forms 1 - sigmoid(x), which loses 12 float64 ULPs near x = 24.
        return _except_float64(lambda g, x: aten.silu_backward(g, _saturate(x)))
    if name == "mish":
        return lambda g, x: aten.mish_backward(g, _saturate(x))
    return None


def _except_float64(
    backward: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None:
    """Mark a native backward as valid for every dtype but float64 (see ``bind``)."""
    backward.float64 = False  # type: ignore[attr-defined]
    return backward


def _inplace_forward(variant: Variant, p: BoundParams) -> Callable[[torch.Tensor], Any] | None:
    """Return torch's in-place kernel for a variant when it matches the contract, else None."""
    name = variant.name
    if name == "relu" and p.negative_slope == 0 and p.threshold == 0 and p.max_value is None:
        return torch.relu_
    if name == "relu6" or (
        name == "relu" and p.negative_slope == 0 and p.threshold == 0 and p.max_value == 6
    ):
        return lambda x: F.hardtanh_(x, 0.0, 6.0)
    if name == "leaky_relu":
        slope = p.negative_slope
        return lambda x: F.leaky_relu_(x, slope)
    if name == "rrelu" and not p.training:
        slope = (p.lower + p.upper) / 2
        return lambda x: F.leaky_relu_(x, slope)
    if name == "elu":
        alpha = p.alpha
        return lambda x: F.elu_(x, alpha)
    if name == "selu":
        return F.selu_
    if name == "celu":
        alpha = p.alpha
        return lambda x: F.celu_(x, alpha)
    if name == "thresholded_relu":
        threshold = p.threshold
        return lambda x: torch.threshold_(x, threshold, 0.0)
    if name == "hard_sigmoid":
        return lambda x: F.hardsigmoid(x, inplace=True)
    return None


def _derivative_from_output(
    variant: Variant, p: BoundParams
) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """Return the derivative as a function of the output, where the output determines it.

    In-place ops overwrite the input, so their backward can only read the output.
    That works where the output's sign and value pin down the input's branch.

    NOTE: for elu, selu and celu the derivative y + alpha cancels for negative
    x, so its error is about one ULP of alpha, absolute, not relative: in float32
    it is 0 below x = -17 where exp(x) is about 4e-8.
    """
    name = variant.name
    one = 1.0

    def nan(y: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        return torch.where(torch.isnan(y), y, d)

    if name in ("relu", "relu6") and p.get("negative_slope", 0) == 0 and p.get("threshold", 0) == 0:
        cap = 6.0 if name == "relu6" else p.max_value
        if cap is None:
            return lambda y: nan(y, (y > 0).to(y.dtype))
        return lambda y: nan(y, ((y > 0) & (y < cap)).to(y.dtype))
    if name in ("leaky_relu", "rrelu") and (name == "rrelu" or p.negative_slope >= 0):
        if name == "rrelu" and p.training:
            return None
        slope = p.negative_slope if name == "leaky_relu" else (p.lower + p.upper) / 2
        return lambda y: nan(y, torch.where(y > 0, one, torch.tensor(slope, dtype=y.dtype)))
    if name == "elu" and p.alpha > 0:
        alpha = p.alpha
        return lambda y: nan(y, torch.where(y > 0, torch.ones_like(y), y + alpha))
    if name == "selu":
        return lambda y: nan(
            y, torch.where(y > 0, torch.full_like(y, SELU_SCALE), y + SELU_SCALE * SELU_ALPHA)
        )
    if name == "celu":
        alpha = p.alpha
        return lambda y: nan(y, torch.where(y > 0, torch.ones_like(y), y / alpha + 1.0))
    if name == "hard_sigmoid":
        return lambda y: nan(y, ((y > 0) & (y < 1)).to(y.dtype) / 6.0)
    return None


def _crelu(x: torch.Tensor, axis: int) -> torch.Tensor:
    # One preallocated output and no concatenation copy. The second half is
    # relu(-x) == -min(x, 0), and adding 0 turns its -0 entries into +0.
    shape = list(x.shape)
    shape[axis] *= 2
    out = torch.empty(shape, dtype=x.dtype, device=x.device)
    first, second = out.split(x.shape[axis], dim=axis)
    torch.clamp(x, min=0, out=first)
    torch.clamp(x, max=0, out=second)
    second.neg_().add_(0.0)
    return out


def bind(variant: Variant, p: BoundParams) -> Callable[..., Any]:
    """Return a torch function for one variant and validated parameters."""
    if variant is spec.PRELU:
        return _bind_prelu(p)
    if variant is spec.CRELU:
        return _bind_crelu(p)
    if variant is spec.RRELU and p.training:
        return _bind_rrelu_training(p)

    native = _native_forward(variant, p)

    def composed(x: torch.Tensor) -> torch.Tensor:
        return _evaluate(variant.forward, x, p)

    forward = native if native is not None else composed
    if native is not None and variant.name in _EXP_FAMILY:
        # TorchInductor lowers F.elu, F.selu and F.celu with exp(x) - 1 (torch 2.13),
        # which returns 0 for float32 |x| below about 6e-8; the composed form avoids it.
        def forward(x: torch.Tensor) -> torch.Tensor:
            if _inductor_compiling():
                return composed(x)
            return native(x)

    native_backward = _native_backward(variant, p)

    def composed_backward(grad: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return grad * _evaluate(variant.derivative, x, p)

    backward = native_backward if native_backward is not None else composed_backward
    if native_backward is not None and not getattr(native_backward, "float64", True):
        native_only = native_backward

        def backward(grad: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            if x.dtype == torch.float64:
                return composed_backward(grad, x)
            return native_only(grad, x)

    inplace_native = _inplace_forward(variant, p)
    from_output = _derivative_from_output(variant, p)

    def function(x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
        _check(variant, x)
        if inplace:
            return _apply_inplace(variant, x, forward, inplace_native, from_output)
        if _records_grad(x):
            return _Elementwise.apply(x, forward, backward)  # type: ignore[no-any-return]
        return forward(x)

    function.__name__ = variant.name
    function.__doc__ = variant.doc()
    return function


def _apply_inplace(
    variant: Variant,
    x: torch.Tensor,
    forward: Callable[[torch.Tensor], torch.Tensor],
    inplace_native: Callable[[torch.Tensor], Any] | None,
    from_output: Callable[[torch.Tensor], torch.Tensor] | None,
) -> torch.Tensor:
    def overwrite(t: torch.Tensor) -> None:
        if inplace_native is not None:
            inplace_native(t)
        else:
            t.copy_(forward(t))

    if _records_grad(x):
        if from_output is None:
            raise ValueError(
                f"{variant.name}: inplace=True cannot be used when the input requires grad, "
                "because the gradient needs the input that the in-place op overwrites. "
                "Pass inplace=False."
            )
        _check_inplace_target(variant, x)
        return _InplaceFromOutput.apply(x, overwrite, from_output)  # type: ignore[no-any-return]
    overwrite(x)
    return x


def _check_inplace_target(variant: Variant, x: torch.Tensor) -> None:
    """Raise ValueError for a tensor that autograd forbids to overwrite, before writing to it.

    torch checks leaves and special views only after a custom Function's forward
    has run, so without this check the input would be overwritten and then the
    call would fail. The checks read autograd metadata only.
    """
    problem = ""
    if x._is_view():
        base = x._base
        creation = getattr(torch._C._autograd, "_get_creation_meta", None)
        meta = str(creation(x)) if creation is not None else "CreationMeta.DEFAULT"
        if base is not None and base.is_leaf and base.requires_grad:
            problem = "the input is a view of a leaf tensor that requires grad"
        elif not meta.endswith("DEFAULT"):
            problem = (
                "the input is a view that autograd does not let in-place ops modify "
                f"({meta.rsplit('.', 1)[-1]}: a view made by an op with several outputs, "
                "in no_grad mode or in inference mode)"
            )
    elif x.is_leaf:
        problem = "the input is a leaf tensor that requires grad"
    if problem:
        raise ValueError(
            f"{variant.name}: inplace=True cannot overwrite this tensor, because {problem}. "
            "Pass inplace=False, or apply the activation to a copy (x.clone())."
        )


def _bind_crelu(p: BoundParams) -> Callable[..., Any]:
    relu = bind(spec.RELU, spec.RELU.bind())

    def function(x: torch.Tensor) -> torch.Tensor:
        _check(spec.CRELU, x)
        if x.ndim == 0:
            raise ValueError("crelu: input must have at least one dimension; got a 0-d tensor.")
        axis = normalize_axis(spec.CRELU, p.axis, x.ndim)
        if _records_grad(x):
            return torch.cat([relu(x), relu(-x)], dim=axis)
        return _crelu(x, axis)

    function.__name__ = "crelu"
    function.__doc__ = spec.CRELU.doc()
    return function


def _bind_prelu(p: BoundParams) -> Callable[..., Any]:
    def function(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        _check(spec.PRELU, x)
        if not isinstance(weight, torch.Tensor):
            check_framework(spec.PRELU, weight, "torch", "weight")
            # Python numbers and lists take the input's dtype; arrays keep their own.
            python = isinstance(weight, (int, float, list, tuple))
            weight = torch.as_tensor(weight, dtype=x.dtype if python else None, device=x.device)
        if weight.dtype not in _DTYPE_NAMES:
            check_weight_dtype(spec.PRELU, str(weight.dtype).replace("torch.", ""), "torch")
        shape = prelu_weight_shape(spec.PRELU, tuple(x.shape), tuple(weight.shape), p.channel_axis)
        if _records_grad(x, weight):
            return _PReLUFunction.apply(x, weight, shape, p)  # type: ignore[no-any-return]
        return _prelu_forward(x, weight, shape, p)

    function.__name__ = "prelu"
    function.__doc__ = spec.PRELU.doc()
    return function


def _bind_rrelu_training(p: BoundParams) -> Callable[..., Any]:
    lower, upper = p.lower, p.upper

    def function(
        x: torch.Tensor, inplace: bool = False, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        _check(spec.RRELU, x)
        if inplace and _records_grad(x):
            raise ValueError(
                "rrelu: inplace=True in training cannot be used when the input requires grad, "
                "because the gradient needs the input that the in-place op overwrites. "
                "Pass inplace=False."
            )
        dtype = _compute_dtype(x)
        slope = torch.empty(x.shape, dtype=dtype, device=x.device).uniform_(
            lower, upper, generator=generator
        )

        def forward(t: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
            return _evaluate(spec.RRELU.forward, t, p, a)

        def backward(grad: torch.Tensor, t: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
            return grad * _evaluate(spec.RRELU.derivative, t, p, a)

        if inplace:
            return x.copy_(forward(x, slope))
        if _records_grad(x):
            return _Elementwise.apply(x, forward, backward, slope)  # type: ignore[no-any-return]
        return forward(x, slope)

    function.__name__ = "rrelu"
    function.__doc__ = spec.RRELU.doc()
    return function


globals().update(make_functions(bind, "torch"))

# TorchScript ---------------------------------------------------------------------
# torch.jit.script cannot compile the bound closures or the autograd.Function, so
# scripted modules run _script_forward instead: the same torch kernels and the same
# formulas as the eager forward above, in plain TorchScript. Its values equal the
# eager ones; its gradient is torch's own derivative of these ops, not the spec's.


def _script_lowest_finite(x: torch.Tensor) -> torch.Tensor:
    # nan_to_num with neginf unset maps -inf to the dtype's lowest finite value,
    # which is clamp(x, min=finfo.min) without torch.finfo, which TorchScript lacks.
    return torch.nan_to_num(x, nan=float("nan"), posinf=float("inf"))


def _script_compute(x: torch.Tensor) -> torch.Tensor:
    if x.dtype == torch.float16 or x.dtype == torch.bfloat16:
        return x.float()
    return x


def _script_forward(
    kind: str,
    x: torch.Tensor,
    a: float,
    b: float,
    c: float | None,
    mode: str,
    axis: int,
) -> torch.Tensor:
    """Compute the forward value of variant ``kind`` in TorchScript-compatible ops.

    ``a``, ``b``, ``c``, ``mode`` and ``axis`` carry the variant's parameters as
    ``_script_parameters`` packs them.
    """
    if kind == "relu":
        if a == 0.0 and b == 0.0 and c is None:
            return torch.relu(x)
        if a == 0.0 and b == 0.0 and c is not None and c == 6.0:
            return F.relu6(x)
        xc = _script_compute(x)
        if a == 0.0:
            y = torch.where(xc <= b, 0.0, xc)
        elif b == 0.0:
            y = torch.where(xc <= b, xc * a, xc)
        else:
            y = torch.where(xc <= b, (xc - b) * a, xc)
        if c is not None:
            y = torch.where(xc >= c, c, y)
        return y.to(x.dtype)
    if kind == "leaky_relu" or kind == "rrelu":
        return F.leaky_relu(x, a)
    if kind == "elu":
        return F.elu(x, a)
    if kind == "selu":
        return F.selu(x)
    if kind == "celu":
        return F.celu(x, a)
    if kind == "relu6":
        return F.relu6(x)
    if kind == "thresholded_relu":
        return F.threshold(x, a, 0.0)
    if kind == "squared_relu":
        return torch.relu(x).square_()
    if kind == "softplus":
        return F.softplus(x, a, b)
    if kind == "hard_sigmoid":
        return F.hardsigmoid(x)
    if kind == "hard_swish":
        return F.hardsigmoid(x).mul_(torch.clamp(x, min=-3.0)).add_(0.0)
    if kind == "mish":
        return F.mish(_script_lowest_finite(x))
    if kind == "silu":
        if a == 1.0:
            return F.silu(_script_lowest_finite(x))
        xc = _script_compute(x)
        if a == 0.0:
            return (xc * 0.5).to(x.dtype)
        s = torch.sigmoid(xc * a)
        return torch.where(s <= 0, 0.0, xc * s).to(x.dtype)
    if kind == "gelu":
        if mode == "tanh":
            return F.gelu(_script_lowest_finite(x), approximate="tanh")
        y = F.gelu(torch.clamp(_script_lowest_finite(x), max=40.0))
        return y.add_(torch.clamp(x - 40.0, min=0.0))
    if kind == "crelu":
        return torch.cat(
            [torch.clamp(x, min=0.0), torch.clamp(x, max=0.0).neg().add(0.0)], dim=axis
        )
    raise ValueError("relu_xf: no TorchScript form for variant " + kind)


def _script_parameters(
    variant: Variant, p: BoundParams
) -> tuple[float, float, float | None, str, int]:
    """Pack a variant's parameters into the ``a, b, c, mode, axis`` of ``_script_forward``."""
    name = variant.name
    if name == "relu":
        return p.negative_slope, p.threshold, p.max_value, "", 0
    if name == "leaky_relu":
        return p.negative_slope, 0.0, None, "", 0
    if name in ("elu", "celu"):
        return p.alpha, 0.0, None, "", 0
    if name == "thresholded_relu":
        return p.threshold, 0.0, None, "", 0
    if name == "softplus":
        return p.beta, p.threshold, None, "", 0
    if name == "silu":
        return p.beta, 0.0, None, "", 0
    if name == "gelu":
        return 0.0, 0.0, None, p.approximate, 0
    if name == "crelu":
        return 0.0, 0.0, None, "", p.axis
    return 0.0, 0.0, None, "", 0


# Modules -----------------------------------------------------------------------


class _Activation(nn.Module):
    """Base of the activation modules: binds the spec once in the constructor."""

    variant: Variant

    def __init__(self, inplace: bool = False, **params: Any) -> None:
        super().__init__()
        self.params = self.variant.bind(**params)
        self.inplace = inplace
        self._function = bind(self.variant, self.params)
        self._set_script_parameters()

    def _set_script_parameters(self) -> None:
        a, b, c, mode, axis = _script_parameters(self.variant, self.params)
        self._script_kind = self.variant.name
        # TorchScript infers attribute types from values, so the optional cap
        # is stored as a float and a flag.
        self._script_a, self._script_b = a, b
        self._script_has_c, self._script_c = c is not None, 0.0 if c is None else c
        self._script_mode, self._script_axis = mode, axis

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():
            y = _script_forward(
                self._script_kind,
                x,
                self._script_a,
                self._script_b,
                self._script_c if self._script_has_c else None,
                self._script_mode,
                self._script_axis,
            )
            if self.inplace:
                return x.copy_(y)
            return y
        return self._eager_forward(x)

    @torch.jit.unused
    def _eager_forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.inplace:
            return self._function(x, inplace=True)  # type: ignore[no-any-return]
        return self._function(x)  # type: ignore[no-any-return]

    def extra_repr(self) -> str:
        defaults = {p.name: p.default for p in self.variant.params}
        parts = [f"{k}={v!r}" for k, v in self.params.items() if v != defaults[k]]
        if self.inplace:
            parts.append("inplace=True")
        return ", ".join(parts)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_function", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._function = bind(self.variant, self.params)
        self._set_script_parameters()


def _module_doc(variant: Variant, extra: str = "") -> str:
    shape = "\n\nShape:\n    Input: (*), any number of dimensions.\n    Output: (*), same shape as the input."
    return variant.doc() + extra + shape


class ReLU(_Activation):
    variant = spec.RELU

    def __init__(
        self,
        negative_slope: float = 0.0,
        max_value: float | None = None,
        threshold: float = 0.0,
        inplace: bool = False,
    ) -> None:
        super().__init__(
            inplace, negative_slope=negative_slope, max_value=max_value, threshold=threshold
        )


class LeakyReLU(_Activation):
    variant = spec.LEAKY_RELU

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__(inplace, negative_slope=negative_slope)


class ELU(_Activation):
    variant = spec.ELU

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__(inplace, alpha=alpha)


class SELU(_Activation):
    variant = spec.SELU

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(inplace)


class CELU(_Activation):
    variant = spec.CELU

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__(inplace, alpha=alpha)


class ReLU6(_Activation):
    variant = spec.RELU6

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(inplace)


class ThresholdedReLU(_Activation):
    variant = spec.THRESHOLDED_RELU

    def __init__(self, threshold: float = 1.0, inplace: bool = False) -> None:
        super().__init__(inplace, threshold=threshold)


class SquaredReLU(_Activation):
    variant = spec.SQUARED_RELU

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(inplace)


class GELU(_Activation):
    variant = spec.GELU

    def __init__(self, approximate: str = "none") -> None:
        super().__init__(False, approximate=approximate)


class SiLU(_Activation):
    variant = spec.SILU

    def __init__(self, beta: float = 1.0, inplace: bool = False) -> None:
        super().__init__(inplace, beta=beta)


class Mish(_Activation):
    variant = spec.MISH

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(inplace)


class Softplus(_Activation):
    variant = spec.SOFTPLUS

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__(False, beta=beta, threshold=threshold)


class HardSigmoid(_Activation):
    variant = spec.HARD_SIGMOID

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(inplace)


class HardSwish(_Activation):
    variant = spec.HARD_SWISH

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(inplace)


class CReLU(_Activation):
    variant = spec.CRELU

    def __init__(self, axis: int = -1) -> None:
        super().__init__(False, axis=axis)


class RReLU(nn.Module):
    """Randomized leaky ReLU: a random slope per element in training, the mean in eval.

    Follows ``train()``/``eval()``: in training each element at or below zero
    gets a slope drawn from U(lower, upper); in eval the slope is
    (lower + upper) / 2.
    """

    def __init__(
        self, lower: float = 1.0 / 8.0, upper: float = 1.0 / 3.0, inplace: bool = False
    ) -> None:
        super().__init__()
        self.params = spec.RRELU.bind(lower=lower, upper=upper)
        self.lower = self.params.lower
        self.upper = self.params.upper
        self.inplace = inplace
        self._bind()

    def _bind(self) -> None:
        self._train_function = bind(
            spec.RRELU, spec.RRELU.bind(lower=self.lower, upper=self.upper, training=True)
        )
        self._eval_function = bind(spec.RRELU, self.params)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():
            if self.training:
                xc = _script_compute(x)
                slope = torch.empty(xc.shape, dtype=xc.dtype, device=x.device)
                slope.uniform_(self.lower, self.upper)
                y = torch.where(xc <= 0, xc * slope, xc).to(x.dtype)
            else:
                y = F.leaky_relu(x, (self.lower + self.upper) / 2)
            if self.inplace:
                return x.copy_(y)
            return y
        return self._eager_forward(x)

    @torch.jit.unused
    def _eager_forward(self, x: torch.Tensor) -> torch.Tensor:
        function = self._train_function if self.training else self._eval_function
        return function(x, inplace=self.inplace)  # type: ignore[no-any-return]

    def extra_repr(self) -> str:
        text = f"lower={self.lower!r}, upper={self.upper!r}"
        return text + (", inplace=True" if self.inplace else "")

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_train_function", None)
        state.pop("_eval_function", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._bind()


class PReLU(nn.Module):
    """Parametric ReLU with a learned slope per channel.

    ``num_parameters`` slopes index the input along ``channel_axis`` (default 1,
    torch's channels-first layout; use -1 for channels-last), or a single slope
    applies everywhere. The slopes start at ``init``: 0.25 here and in torch,
    while Keras' own PReLU starts at 0.

    Attributes:
        weight: The learnable slopes, shape ``(num_parameters,)``.
    """

    def __init__(
        self,
        num_parameters: int = 1,
        init: float = PRELU_INIT,
        channel_axis: int = 1,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if (
            not isinstance(num_parameters, int)
            or isinstance(num_parameters, bool)
            or num_parameters < 1
        ):
            raise ValueError(
                f"prelu: num_parameters={num_parameters!r} is invalid; it must be an integer >= 1, "
                "one slope per channel or 1 for a shared slope."
            )
        self.params = spec.PRELU.bind(channel_axis=channel_axis)
        self.num_parameters = num_parameters
        self.init = float(init)
        self.channel_axis = channel_axis
        self.weight = nn.Parameter(torch.empty(num_parameters, device=device, dtype=dtype))
        self._function = bind(spec.PRELU, self.params)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Fill every slope with ``init``."""
        nn.init.constant_(self.weight, self.init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():
            weight = self.weight
            if self.channel_axis == 1 or weight.numel() == 1:
                if x.dim() > 0:
                    return F.prelu(x, weight.reshape(-1).to(x.dtype))
                return F.prelu(x, weight.reshape(()).to(x.dtype))
            shape = [1] * x.dim()
            shape[self.channel_axis] = weight.numel()
            return torch.where(x <= 0, x * weight.reshape(shape).to(x.dtype), x)
        return self._eager_forward(x)

    @torch.jit.unused
    def _eager_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._function(x, self.weight)  # type: ignore[no-any-return]

    def extra_repr(self) -> str:
        text = f"num_parameters={self.num_parameters}"
        if self.channel_axis != 1:
            text += f", channel_axis={self.channel_axis}"
        return text

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_function", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._function = bind(spec.PRELU, self.params)


_MODULES: dict[str, type[nn.Module]] = {
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "prelu": PReLU,
    "rrelu": RReLU,
    "elu": ELU,
    "selu": SELU,
    "celu": CELU,
    "crelu": CReLU,
    "relu6": ReLU6,
    "thresholded_relu": ThresholdedReLU,
    "squared_relu": SquaredReLU,
    "gelu": GELU,
    "silu": SiLU,
    "mish": Mish,
    "softplus": Softplus,
    "hard_sigmoid": HardSigmoid,
    "hard_swish": HardSwish,
}

for _name, _module in _MODULES.items():
    if issubclass(_module, _Activation):
        _module.__doc__ = _module_doc(_module.variant)


def make_layer(variant: Variant, **params: Any) -> nn.Module:
    """Return the ``nn.Module`` of a variant, constructed with ``params``."""
    return _MODULES[variant.name](**params)


# Parity harness ----------------------------------------------------------------

PARITY_MODES = ("eager", "compiled")
# torch.compile spends about 4 s per variant and dtype on a 2-core CPU building
# kernels, so the compiled mode runs only when asked for with --mode compiled.
DEFAULT_MODES = ("eager",)

_TORCH_DTYPES = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
}


def _value_and_grad(
    function: Callable[..., Any], x: torch.Tensor, *extra: Any
) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.detach().requires_grad_(True)
    y = function(x, *extra)
    (g,) = torch.autograd.grad(y.sum(), x)
    return y.detach(), g


def evaluate(
    mode: str, variant: Variant, p: BoundParams, x: Any, dtype: str, weight: Any = None
) -> tuple[Any, Any]:
    """Run the torch backend for the parity harness; see ``relu_xf.parity``."""
    import numpy as np

    tensor = torch.from_numpy(x).to(_TORCH_DTYPES[dtype])
    extra = (
        (torch.from_numpy(np.asarray(weight)).to(_TORCH_DTYPES[dtype]),)
        if weight is not None
        else ()
    )
    function = bind(variant, p)
    if mode == "compiled":
        function = torch.compile(function, dynamic=False, fullgraph=False)
    y, g = _value_and_grad(function, tensor, *extra)
    return y.to(torch.float64).numpy(), g.to(torch.float64).numpy()
