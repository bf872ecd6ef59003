"""Parity harness: every backend against the float64 reference, values and gradients.

A backend takes part by defining, in its adapter module,

* ``PARITY_MODES``: the names of the ways it runs a function, for example
  ``("eager", "compiled")``, and optionally ``DEFAULT_MODES``, the subset run
  when the caller names no mode (for modes too slow to run by default);
* ``evaluate(mode, variant, params, x, dtype, weight)``: run the variant on
  ``x`` (float64 values that are exact in ``dtype``) cast to ``dtype``, and
  return the output and the gradient of its sum with respect to ``x``, both
  as float64 NumPy arrays. It raises :class:`Unsupported` with the framework's
  own reason when the framework cannot run that dtype.

The harness builds a deterministic input grid per variant and dtype. The grid
contains every breakpoint and its neighbours, +-0, +-inf, NaN, subnormals,
huge magnitudes and seeded random values. Errors are measured in ULPs of the
dtype against the reference rounded to that dtype.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._registry import BACKENDS, BackendInfo, installed_backends, resolve_backend, resolve_variant
from ._spec import BoundParams, Variant
from ._variants import PRELU_INIT, VARIANTS
from .numpy import reference_gradient, reference_value

__all__ = [
    "DTYPES",
    "CaseResult",
    "Unsupported",
    "input_grid",
    "measure_errors",
    "param_cases",
    "round_to_dtype",
    "run",
    "run_case",
    "ulp_error",
]

DTYPES = ("float16", "bfloat16", "float32", "float64")

# (mantissa bits including the implicit one, smallest normal exponent, largest finite value)
_FORMATS = {
    "float16": (11, -14, 65504.0),
    "bfloat16": (8, -126, 3.3895313892515355e38),
    "float32": (24, -126, 3.4028234663852886e38),
    "float64": (53, -1022, 1.7976931348623157e308),
}

# Accuracy bounds for the 16-bit dtypes, in their own ULPs: backends compute them
# in float32 and round once, so the float32 error almost never shows.
_HALF_VALUE_ULPS = 1
_HALF_GRADIENT_ULPS = 1

SEED = 20240611


class Unsupported(Exception):
    """Raised by a backend that cannot run a dtype; the message is the framework's reason."""


def param_cases(variant: Variant) -> list[dict[str, Any]]:
    """Return the parameter sets the harness runs for a variant: defaults first."""
    extra: dict[str, list[dict[str, Any]]] = {
        "relu": [
            {"max_value": 6.0},
            {"negative_slope": 0.1, "threshold": 1.0, "max_value": 4.0},
        ],
        "leaky_relu": [{"negative_slope": 0.2}, {"negative_slope": 0.3}],
        "elu": [{"alpha": 0.5}],
        "celu": [{"alpha": 2.0}],
        "crelu": [{"axis": 0}],
        "thresholded_relu": [{"threshold": -0.5}],
        "gelu": [{"approximate": "tanh"}],
        "silu": [{"beta": 2.0}],
        "softplus": [{"beta": 2.0, "threshold": 10.0}],
        "rrelu": [{"lower": 0.1, "upper": 0.3}],
    }
    return [{}] + extra.get(variant.name, [])


def _is_subnormal(values: np.ndarray, dtype: str) -> np.ndarray:
    tiny = 2.0 ** _FORMATS[dtype][1]
    return (values != 0) & (np.abs(values) < tiny)


def flush_subnormals(values: np.ndarray, dtype: str) -> np.ndarray:
    """Replace values below the smallest normal number of ``dtype`` by zero of the same sign."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(_is_subnormal(values, dtype), np.copysign(0.0, values), values)


def round_to_dtype(values: np.ndarray, dtype: str) -> np.ndarray:
    """Round float64 values to the nearest value of ``dtype``, returned as float64."""
    values = np.asarray(values, dtype=np.float64)
    if dtype == "float64":
        return values.copy()
    if dtype == "float32":
        with np.errstate(over="ignore"):
            return values.astype(np.float32).astype(np.float64)
    if dtype == "float16":
        with np.errstate(over="ignore"):
            return values.astype(np.float16).astype(np.float64)
    if dtype == "bfloat16":
        return _round_bfloat16(values)
    raise ValueError(f"unknown dtype {dtype!r}; known dtypes: {', '.join(DTYPES)}.")


def _round_bfloat16(values: np.ndarray) -> np.ndarray:
    # Round to float32 first, then to the 8 significant bits of bfloat16 with
    # round-half-to-even on the raw bits; NaN is kept apart because its bits
    # would round into infinity.
    with np.errstate(over="ignore"):
        single = values.astype(np.float32)
    bits = single.view(np.uint32).astype(np.uint64)
    rounding = ((bits >> 16) & 1) + 0x7FFF
    rounded = ((bits + rounding) & 0xFFFF0000).astype(np.uint32)
    result = rounded.view(np.float32).astype(np.float64)
    return np.where(np.isnan(values), np.nan, result)


def _ulp(scale: np.ndarray, dtype: str) -> np.ndarray:
    """ULP of ``dtype`` at each magnitude in ``scale``.

    Magnitudes up to the smallest normal number use that number itself as the
    ULP, so a backend that flushes subnormal results to zero is within one ULP.
    """
    bits, min_exponent, _ = _FORMATS[dtype]
    tiny = 2.0**min_exponent
    magnitude = np.maximum(np.abs(scale), tiny)
    with np.errstate(divide="ignore", invalid="ignore"):
        exponent = np.floor(np.log2(magnitude))
    spacing = np.ldexp(1.0, (exponent - bits + 1).astype(np.int64).clip(-1100, 1100))
    return np.where(np.abs(scale) <= tiny, tiny, spacing)


def ulp_error(
    actual: np.ndarray, expected: np.ndarray, scale: np.ndarray, dtype: str
) -> np.ndarray:
    """Error of ``actual`` against ``expected`` (already rounded to ``dtype``) in ULPs.

    NaN against NaN and equal infinities count as 0; any other mismatch of
    NaN or infinity counts as infinite error.
    """
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    same = (actual == expected) | (np.isnan(actual) & np.isnan(expected))
    special = ~np.isfinite(actual) | ~np.isfinite(expected)
    with np.errstate(invalid="ignore", over="ignore"):
        error = np.abs(actual - expected) / _ulp(scale, dtype)
    error = np.where(special, np.inf, error)
    return np.where(same, 0.0, error)


def input_grid(variant: Variant, params: BoundParams, dtype: str) -> np.ndarray:
    """Return the deterministic 1-D input grid for a variant, exact in ``dtype``."""
    bits, min_exponent, largest = _FORMATS[dtype]
    tiny = 2.0**min_exponent
    smallest_subnormal = 2.0 ** (min_exponent - bits + 1)
    values: list[float] = [
        0.0,
        -0.0,
        np.inf,
        -np.inf,
        np.nan,
        smallest_subnormal,
        -smallest_subnormal,
        tiny / 2,
        -tiny / 2,
        tiny,
        -tiny,
        largest,
        -largest,
        largest / 3,
        -largest / 3,
    ]

    for magnitude in (
        1e-30,
        1e-8,
        1e-3,
        0.5,
        1.0,
        2.0,
        3.0,
        6.0,
        10.0,
        20.0,
        40.0,
        88.0,
        100.0,
        1e4,
        1e8,
        1e20,
    ):
        values += [magnitude, -magnitude]

    points = list(variant.breakpoints(params))
    for point in points:
        exact = float(round_to_dtype(np.array([point]), dtype)[0])
        values.append(exact)
        step = _ulp(np.array([exact]), dtype)[0]
        for k in (1, 2, 16):
            values += [exact + k * step, exact - k * step]

    rng = np.random.default_rng(SEED)
    values += list(rng.normal(0.0, 3.0, size=512))
    values += list(rng.choice([-1.0, 1.0], size=128) * 10.0 ** rng.uniform(-6, 4, size=128))
    grid = round_to_dtype(np.array(values, dtype=np.float64), dtype)
    return grid


@dataclass
class CaseResult:
    """The outcome of one variant, parameter set, backend mode and dtype."""

    variant: str
    params: dict[str, Any]
    backend: str
    mode: str
    dtype: str
    value_ulps: float = 0.0
    gradient_ulps: float = 0.0
    value_bound: int = 0
    gradient_bound: int = 0
    unsupported: str | None = None
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.unsupported is not None or not self.failures

    @property
    def label(self) -> str:
        if not self.params:
            return self.variant
        inner = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{self.variant}({inner})"

    @property
    def column(self) -> str:
        return self.backend if self.mode == "eager" else f"{self.backend}:{self.mode}"


def bounds(variant: Variant, dtype: str) -> tuple[int, int]:
    """Return the (value, gradient) ULP bounds of a variant at a dtype."""
    if dtype in ("float16", "bfloat16"):
        return _HALF_VALUE_ULPS, _HALF_GRADIENT_ULPS
    return variant.value_ulps, variant.gradient_ulps


def _worst(
    error: np.ndarray, x: np.ndarray, actual: np.ndarray, expected: np.ndarray, what: str
) -> str:
    index = int(np.nanargmax(np.where(np.isnan(error), -1.0, error)))
    return (
        f"{what} at x={x[index]!r}: got {actual.ravel()[index]!r}, "
        f"expected {expected.ravel()[index]!r} ({error[index]:.4g} ULPs)"
    )


def measure_errors(
    variant: Variant,
    params: BoundParams,
    x: np.ndarray,
    y: Any,
    g: Any,
    dtype: str,
    *extra: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return the ULP errors of a backend's values ``y`` and gradients ``g`` on input ``x``.

    ``x`` contains float64 values exact in ``dtype``. ``extra`` contains the PReLU
    weight, already shaped to broadcast against ``x``. Returns the value errors,
    the gradient errors, and the reference values and gradients rounded to
    ``dtype``, with ``y`` and ``g`` compared in those shapes.
    """
    expected = round_to_dtype(reference_value(variant, params, x, *extra), dtype)
    gradient = round_to_dtype(reference_gradient(variant, params, x, *extra), dtype)
    y = np.asarray(y, dtype=np.float64).reshape(expected.shape)
    g = np.asarray(g, dtype=np.float64).reshape(gradient.shape)
    if variant.name == "crelu":
        x_for_values = np.concatenate([x, x], axis=params.axis)
    else:
        x_for_values = x
    value_scale = np.abs(expected)
    if variant.error_scale == "input":
        value_scale = np.maximum(value_scale, np.abs(x_for_values))
    gradient_scale = np.maximum(np.abs(gradient), variant.gradient_floor)
    if variant.error_scale == "input":
        gradient_scale = np.maximum(gradient_scale, 1.0)

    value_error = ulp_error(y, expected, value_scale, dtype)
    gradient_error = ulp_error(g, gradient, gradient_scale, dtype)
    if np.any(_is_subnormal(x, dtype)):
        # Kernels that run with denormals-are-zero (TensorFlow's, and XLA's on CPU)
        # see a subnormal input as zero of the same sign. The contract accepts the
        # result at either input.
        flushed = flush_subnormals(x, dtype)
        flushed_value = round_to_dtype(reference_value(variant, params, flushed, *extra), dtype)
        flushed_gradient = round_to_dtype(
            reference_gradient(variant, params, flushed, *extra), dtype
        )
        value_error = np.minimum(value_error, ulp_error(y, flushed_value, value_scale, dtype))
        gradient_error = np.minimum(
            gradient_error, ulp_error(g, flushed_gradient, gradient_scale, dtype)
        )
    return value_error, gradient_error, expected, gradient


def run_case(
    adapter: Any,
    backend: str,
    mode: str,
    variant: Variant,
    overrides: dict[str, Any],
    dtype: str,
) -> CaseResult:
    """Run one backend mode on one variant, parameter set and dtype against the reference."""
    params = variant.bind(**overrides)
    value_bound, gradient_bound = bounds(variant, dtype)
    result = CaseResult(
        variant.name,
        overrides,
        backend,
        mode,
        dtype,
        value_bound=value_bound,
        gradient_bound=gradient_bound,
    )
    x = input_grid(variant, params, dtype)
    weight = np.array([PRELU_INIT]) if variant.learnable else None
    extra = (weight,) if weight is not None else ()
    try:
        y, g = adapter.evaluate(mode, variant, params, x, dtype, weight)
    except Unsupported as reason:
        result.unsupported = str(reason)
        return result

    value_error, gradient_error, expected, gradient = measure_errors(
        variant, params, x, y, g, dtype, *extra
    )
    y = np.asarray(y, dtype=np.float64).reshape(expected.shape)
    g = np.asarray(g, dtype=np.float64).reshape(gradient.shape)
    x_for_values = np.concatenate([x, x]) if variant.name == "crelu" else x
    result.value_ulps = float(np.max(value_error))
    result.gradient_ulps = float(np.max(gradient_error))
    if result.value_ulps > value_bound:
        result.failures.append(_worst(value_error, x_for_values, y, expected, "value"))
    if result.gradient_ulps > gradient_bound:
        result.failures.append(_worst(gradient_error, x, g, gradient, "gradient"))
    return result


def _adapters(names: Sequence[str] | None) -> list[tuple[BackendInfo, Any]]:
    chosen = [resolve_backend(n) for n in names] if names else installed_backends()
    adapters = []
    for info in chosen:
        adapters.append((info, importlib.import_module(info.module)))
    return adapters


def run(
    backends: Sequence[str] | None = None,
    variants: Iterable[str] | None = None,
    dtypes: Sequence[str] | None = None,
    modes: Sequence[str] | None = None,
) -> list[CaseResult]:
    """Run the harness and return every case's result.

    Args:
        backends: Backend names; every installed backend when None.
        variants: Variant names; every variant when None.
        dtypes: Dtype names; all four float dtypes when None.
        modes: Mode names (``"eager"``, ``"compiled"``); each backend's
            ``DEFAULT_MODES`` when None.
    """
    selected = [resolve_variant(v) for v in variants] if variants else list(VARIANTS)
    chosen_dtypes = list(dtypes) if dtypes else list(DTYPES)
    for dtype in chosen_dtypes:
        if dtype not in DTYPES:
            raise ValueError(f"unknown dtype {dtype!r}; known dtypes: {', '.join(DTYPES)}.")
    results = []
    for info, adapter in _adapters(backends):
        for mode in adapter.PARITY_MODES:
            if modes and mode not in modes:
                continue
            if not modes and mode not in getattr(adapter, "DEFAULT_MODES", adapter.PARITY_MODES):
                continue
            for variant in selected:
                for overrides in param_cases(variant):
                    for dtype in chosen_dtypes:
                        results.append(
                            run_case(adapter, info.name, mode, variant, overrides, dtype)
                        )
    return results


def format_table(results: Sequence[CaseResult]) -> str:
    """Format results as a variant x backend table of worst value/gradient ULPs.

    Each cell lists, per dtype, ``value/gradient`` worst errors; ``-`` marks a
    dtype the backend does not support and ``FAIL`` a bound exceeded.
    """
    columns: list[str] = []
    rows: list[str] = []
    cells: dict[tuple[str, str], list[str]] = {}
    for r in results:
        if r.column not in columns:
            columns.append(r.column)
        if r.label not in rows:
            rows.append(r.label)
        if r.unsupported is not None:
            text = "-"
        else:
            text = f"{_fmt(r.value_ulps)}/{_fmt(r.gradient_ulps)}" + ("" if r.passed else "!")
        cells.setdefault((r.label, r.column), []).append(text)
    dtypes = list(dict.fromkeys(r.dtype for r in results))
    header = ["variant"] + columns
    body = [[row] + [" ".join(cells.get((row, c), ["?"])) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in [header] + body) for i in range(len(header))]
    lines = [
        "Worst error in ULPs, value/gradient, per dtype: " + " ".join(dtypes),
        "('-' unsupported dtype, '!' bound exceeded)",
        "",
        "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in body]
    return "\n".join(lines)


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if value == np.inf:
        return "inf"
    return f"{value:.3g}"


def available_backend_names() -> list[str]:
    """Return the names of the installed backends."""
    return [b.name for b in installed_backends()]


ALL_BACKEND_NAMES = [b.name for b in BACKENDS]
