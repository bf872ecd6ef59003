"""Plots of a variant's function and derivative, drawn from the float64 NumPy reference.

matplotlib is an optional dependency (``pip install 'relu_xf[plot]'``). It is
imported inside :func:`plot_variant`, and the figure is drawn on matplotlib's
Agg canvas directly, so the global pyplot backend of the caller is left as it is.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ._registry import resolve_variant
from ._spec import BoundParams, Variant
from ._variants import PRELU_INIT
from .numpy import reference_gradient, reference_value

__all__ = ["default_x_range", "plot_variant"]

# Fraction of an interval kept clear of its breakpoints, so that each plotted
# segment shows one branch and no line joins the two sides of a jump.
_EDGE = 1e-9


def default_x_range(variant: Variant, p: BoundParams) -> tuple[float, float]:
    """Return an x range that contains every breakpoint with a margin of 2 on each side.

    The range is at least [-4, 4], so the curved parts of gelu, silu, mish and elu show.
    """
    points = variant.breakpoints(p)
    low = min([-4.0, *(b - 2.0 for b in points)])
    high = max([4.0, *(b + 2.0 for b in points)])
    return low, high


def _segments(low: float, high: float, points: tuple[float, ...], samples: int) -> list[np.ndarray]:
    """Split [low, high] at the breakpoints into open intervals of evenly spaced samples."""
    edges = [low, *sorted(b for b in points if low < b < high), high]
    width = high - low
    segments = []
    for start, stop in zip(edges[:-1], edges[1:], strict=True):
        count = max(8, int(samples * (stop - start) / width))
        margin = _EDGE * width
        segments.append(np.linspace(start + margin, stop - margin, count))
    return segments


def _evaluate(
    variant: Variant, p: BoundParams, x: np.ndarray
) -> tuple[list[np.ndarray], np.ndarray]:
    """Return the output curves (two for crelu) and the derivative on ``x``."""
    extra: tuple[Any, ...] = (np.float64(PRELU_INIT),) if variant.learnable else ()
    if variant.name == "crelu":
        # The plotted x is 1-D, so the halves are joined along axis 0 whatever axis was set.
        flat = BoundParams({"axis": 0})
        halves = reference_value(variant, flat, x)
        return [halves[: x.size], halves[x.size :]], reference_gradient(variant, flat, x)
    return [reference_value(variant, p, x, *extra)], reference_gradient(variant, p, x, *extra)


def _title(variant: Variant, p: BoundParams) -> str:
    settings = [f"{k}={v!r}" for k, v in p.items()]
    if variant.learnable:
        settings.append(f"weight={PRELU_INIT!r}")
    return variant.name + (f" ({', '.join(settings)})" if settings else "")


def plot_variant(
    name: str,
    path: str | os.PathLike[str] | None = None,
    *,
    x_range: tuple[float, float] | None = None,
    samples: int = 801,
    **params: Any,
) -> Any:
    """Draw a variant's function and derivative and return the matplotlib ``Figure``.

    Values come from the float64 NumPy reference (``relu_xf.numpy``), so the
    plot shows the contract every backend follows. Each breakpoint is marked by
    a dotted vertical line, with dots at the value and derivative that the
    contract defines there. prelu is drawn with the slope ``weight = 0.25``.
    crelu is drawn as its two halves, relu(x) and relu(-x), with the gradient
    of their sum.

    Args:
        name: Variant name or alias.
        path: When given, the figure is also written there as a PNG.
        x_range: (low, high) of the x axis. The default contains every
            breakpoint with a margin of 2 and is at least [-4, 4].
        samples: Approximate number of x values evaluated across the range.
        **params: The variant's parameters, validated as ``relu_xf.get`` does.

    Raises:
        ImportError: matplotlib is not installed.
        ValueError: Unknown variant, a parameter out of range, an empty x
            range, or ``training=True`` for rrelu (random slopes have no
            single curve).
        TypeError: Unknown parameter, or a parameter of the wrong type.
    """
    variant = resolve_variant(name)
    p = variant.bind(**params)
    if variant.random and p.training:
        raise ValueError(
            f"{variant.name}: training=True draws a random slope per element, so there is no "
            "single curve to plot. Leave training out to plot the mean slope."
        )
    low, high = x_range if x_range is not None else default_x_range(variant, p)
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(
            f"x range ({low!r}, {high!r}) is invalid; it must be two finite numbers with "
            "low < high."
        )
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            "relu_xf.plot needs matplotlib, which is not installed. "
            "Install it with: pip install 'relu_xf[plot]'"
        ) from error

    figure = Figure(figsize=(7.0, 4.2), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    points = variant.breakpoints(p)
    output_labels = ["relu(x)", "relu(-x)"] if variant.name == "crelu" else ["f(x)"]
    output_colors = ["tab:blue", "tab:green"]
    derivative_label = "d/dx sum(f(x))" if variant.name == "crelu" else "f'(x)"

    for index, x in enumerate(_segments(low, high, points, samples)):
        outputs, derivative = _evaluate(variant, p, x)
        for curve, label, color in zip(outputs, output_labels, output_colors, strict=False):
            axes.plot(x, curve, color=color, linewidth=2.0, label=label if index == 0 else None)
        axes.plot(
            x,
            derivative,
            color="tab:orange",
            linewidth=1.6,
            linestyle="--",
            label=derivative_label if index == 0 else None,
        )

    shown = np.array([b for b in points if low <= b <= high], dtype=np.float64)
    if shown.size:
        outputs, derivative = _evaluate(variant, p, shown)
        for b in shown:
            axes.axvline(b, color="0.5", linestyle=":", linewidth=1.0)
        for curve, color in zip(outputs, output_colors, strict=False):
            axes.plot(shown, curve, "o", color=color, markersize=6, zorder=3)
        axes.plot(
            shown,
            derivative,
            "o",
            color="tab:orange",
            markersize=6,
            zorder=3,
            label="value at breakpoint",
        )

    axes.axhline(0.0, color="0.8", linewidth=0.8, zorder=0)
    axes.set_xlim(low, high)
    axes.set_xlabel("x")
    axes.set_ylabel("output / derivative")
    axes.set_title(_title(variant, p))
    axes.grid(True, color="0.92")
    axes.legend(loc="best")
    if path is not None:
        # A fixed metadata set keeps the PNG bytes the same from run to run.
        figure.savefig(os.fspath(path), format="png", metadata={"Software": None})
    return figure
