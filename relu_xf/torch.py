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
    check_framework,
    check_weight_dtype,
    make_functions,
    normalize_axis,
    prelu_weight_shape,
)
from ._spec import BoundParams, Variant
from ._torch_kernels import (
    _DTYPE_NAMES,
    _EXP_FAMILY,
    _check,
    _compute_dtype,
    _crelu,
    _derivative_from_output,
    _Elementwise,
    _evaluate,
    _inductor_compiling,
    _inplace_forward,
    _InplaceFromOutput,
    _native_backward,
    _native_forward,
    _prelu_forward,
    _PReLUFunction,
    _records_grad,
)
from ._torch_script import _script_compute, _script_forward, _script_parameters
from ._variants import PRELU_INIT

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
        if _records_grad(x) or _inductor_compiling():
            # TorchInductor fuses the concatenation itself, and its cached graphs of
            # the out= form below keep the size they were compiled at (torch 2.13), so
            # a second process compiling another size fails. Adding 0 makes zeros +0.
            return torch.cat([relu(x), relu(-x)], dim=axis).add_(0.0)
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
