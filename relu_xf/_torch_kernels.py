"""Torch kernels behind relu_xf.torch: the spec's ops, native forward and backward tables.

``_native_forward`` and ``_native_backward`` name the torch kernels that match the
contract for a variant, and the autograd Functions route every gradient through
them or through the spec's derivative. relu_xf.torch binds these per variant.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from . import _variants as spec
from ._adapter import check_dtype, check_framework
from ._ops import Ops
from ._spec import BoundParams, Variant
from ._variants import SELU_ALPHA, SELU_SCALE

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
        # smaller dtype, so the kernel gets at most 40 and the excess is added back.
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

    Each kernel takes the branch the spec takes at every breakpoint. Kernels that
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
