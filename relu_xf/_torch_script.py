"""TorchScript forward of relu_xf's torch modules.

Scripted modules cannot call the bound closures or the autograd Functions of
relu_xf.torch, so they run ``_script_forward``: the same torch kernels and
formulas as the eager forward, written in plain TorchScript.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._spec import BoundParams, Variant

# Values equal the eager ones; the gradient of a scripted module is torch's own
# derivative of these ops, not the spec's.


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
