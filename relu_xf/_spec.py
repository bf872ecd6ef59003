"""Spec layer: the data types that describe each activation once.

A :class:`Variant` contains everything a backend needs: the canonical name and
aliases, typed parameters with defaults and valid ranges, the formula as cases
with explicit conditions, and two functions written over the array vocabulary
of :class:`relu_xf._ops.Ops`: ``forward`` (the value) and ``derivative`` (the
gradient of ``sum(forward(x))`` with respect to ``x``, which for an elementwise
variant is the elementwise derivative). Backends evaluate those two functions
with native ops, so adding a variant is one new entry in ``_variants.py``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Case", "Param", "Variant", "BoundParams"]

Formula = Callable[..., Any]


@dataclass(frozen=True)
class Case:
    """One branch of a piecewise formula: ``value`` where ``condition`` holds."""

    value: str
    condition: str


@dataclass(frozen=True)
class Param:
    """A typed, range-checked parameter of a variant.

    ``low`` and ``high`` bound a float or int parameter; ``low_open`` and
    ``high_open`` make a bound exclusive. ``choices`` lists the accepted values
    of a string parameter. ``optional`` lets the parameter be ``None``.
    """

    name: str
    kind: type
    default: Any
    doc: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] | None = None
    optional: bool = False

    def describe_range(self) -> str:
        """Return the valid range as text, for docs and error messages."""
        if self.choices is not None:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        elif self.kind is bool:
            text = "True or False"
        else:
            noun = "an integer" if self.kind is int else "a finite number"
            bounds = []
            if self.low is not None:
                bounds.append((">" if self.low_open else ">=") + f" {self.low:g}")
            if self.high is not None:
                bounds.append(("<" if self.high_open else "<=") + f" {self.high:g}")
            text = noun + (" " + " and ".join(bounds) if bounds else "")
        if self.optional:
            text += ", or None"
        return text

    def validate(self, variant: str, value: Any) -> Any:
        """Check ``value`` and return it as a plain Python scalar.

        NumPy scalars and 0-d arrays are converted to ``float``/``int`` so that
        a parameter never changes the dtype of a backend's output.
        """
        if value is None:
            if self.optional:
                return None
            self._fail(variant, value, "must not be None")
        if self.choices is not None:
            if not isinstance(value, str) or value not in self.choices:
                self._fail(variant, value, "is not valid")
            return value
        if self.kind is bool:
            if not isinstance(value, bool):
                self._fail(variant, value, "is not a bool", error=TypeError)
            return value
        number = _as_python_number(value)
        if number is None or isinstance(number, bool):
            self._fail(variant, value, "is not a real number", error=TypeError)
        value = number
        if self.kind is int:
            if not isinstance(value, int):
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                else:
                    self._fail(variant, value, "is not an integer", error=TypeError)
        else:
            value = float(value)
            if not math.isfinite(value):
                self._fail(variant, value, "is not finite")
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            self._fail(variant, value, "is out of range")
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            self._fail(variant, value, "is out of range")
        return value

    def _fail(self, variant: str, value: Any, problem: str, error: type = ValueError) -> None:
        raise error(
            f"{variant}: parameter {self.name}={value!r} {problem}; "
            f"{self.name} must be {self.describe_range()}. "
            f"Pass a valid value or leave it out to use the default {self.default!r}."
        )


def _as_python_number(value: Any) -> Any:
    """Return ``value`` as a Python int or float, or None if it is not a real scalar."""
    if isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    # NumPy and framework 0-d arrays expose item() and ndim; checking by
    # attribute keeps this module free of framework imports.
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        item = value.item()
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            return item
    return None


class BoundParams(Mapping[str, Any]):
    """Validated parameter values of one variant, readable as attributes."""

    def __init__(self, values: dict[str, Any]):
        self._values = dict(values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"BoundParams({inner})"


@dataclass(frozen=True)
class Variant:
    """One activation, defined once for every backend.

    Attributes:
        name: Canonical snake_case name.
        aliases: Other accepted names.
        summary: One-line description.
        params: Parameters in signature order.
        cases: The formula as branches with explicit conditions, for docs.
        derivative_cases: The derivative as branches, for docs.
        forward: ``forward(ops, x, p)`` over the ops vocabulary.
        derivative: ``derivative(ops, x, p)``, the gradient of
            ``sum(forward(x))`` with respect to ``x``.
        breakpoints: ``breakpoints(p)``, the inputs where a branch changes.
        symbols: How each formula symbol maps to a parameter name.
        output_width: Factor by which the variant widens its axis (CReLU: 2).
        elementwise: False when an output depends on more than one input.
        learnable: Names of trainable tensors of the layer/module form.
        random: True when training mode draws random numbers.
        check: Optional cross-parameter validation, raising ValueError.
        reference: The paper or source that defines the variant.
        framework_defaults: Per framework, its own name and default for the
            variant and its parameters, as text.
        value_ulps: Accuracy bound of values against the float64 reference,
            in ULPs of the output dtype, for float32 and float64.
        gradient_ulps: The same for gradients.
        error_scale: "output" measures ULPs of the reference value;
            "input" measures ULPs of max(|reference|, |x|), for formulas whose
            rounding error scales with the input (products like x * Phi(x)).
        gradient_floor: Smallest magnitude that gradient errors are measured
            in ULPs of, for derivatives whose rounding error does not shrink
            with the derivative itself.
    """

    name: str
    summary: str
    params: tuple[Param, ...]
    cases: tuple[Case, ...]
    derivative_cases: tuple[Case, ...]
    forward: Formula
    derivative: Formula
    breakpoints: Callable[[BoundParams], tuple[float, ...]]
    aliases: tuple[str, ...] = ()
    symbols: tuple[tuple[str, str], ...] = ()
    output_width: int = 1
    elementwise: bool = True
    learnable: tuple[str, ...] = ()
    random: bool = False
    check: Callable[[BoundParams], None] | None = None
    reference: str = ""
    framework_defaults: Mapping[str, str] = field(default_factory=dict)
    value_ulps: int = 1
    gradient_ulps: int = 2
    error_scale: str = "output"
    gradient_floor: float = 0.0

    def bind(self, **params: Any) -> BoundParams:
        """Validate ``params`` against this variant and fill in defaults."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(params) - set(known))
        if unknown:
            accepted = ", ".join(known) if known else "no parameters"
            raise TypeError(
                f"{self.name}: unexpected parameter {unknown[0]}={params[unknown[0]]!r}; "
                f"{self.name} accepts {accepted}."
            )
        values = {}
        for param in self.params:
            value = params.get(param.name, param.default)
            values[param.name] = param.validate(self.name, value)
        bound = BoundParams(values)
        if self.check is not None:
            self.check(bound)
        return bound

    def formula_text(self) -> str:
        """Return the formula as plain text, one case a line."""
        lines = [f"{self.name}(x) = {c.value}  if {c.condition}" for c in self.cases]
        return "\n".join(lines)

    def doc(self) -> str:
        """Return a docstring body: summary, formula, derivative and parameters."""
        parts = [self.summary, "", "Formula:", ""]
        parts += [f"    {c.value:<36} if {c.condition}" for c in self.cases]
        parts += ["", "Derivative:", ""]
        parts += [f"    {c.value:<36} if {c.condition}" for c in self.derivative_cases]
        if self.symbols:
            parts += ["", "where " + ", ".join(f"{s} is ``{p}``" for s, p in self.symbols) + "."]
        if self.params:
            parts += ["", "Args:"]
            for p in self.params:
                parts.append(
                    f"    {p.name}: {p.doc} Must be {p.describe_range()}. Default: ``{p.default!r}``."
                )
        if self.reference:
            parts += ["", f"Reference: {self.reference}"]
        return "\n".join(parts)
