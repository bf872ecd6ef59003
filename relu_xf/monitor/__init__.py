"""Dead and sparse units of relu_xf activation layers, with one definition for every framework.

An activation layer's input ``x`` (the pre-activation) and output ``y`` have
shape ``(batch, ..., units)`` or ``(batch, units, ...)``: one axis, the unit
axis, indexes the units (features of a dense layer, channels of a
convolution), axis 0 is the batch, and every other axis is a position. Each
layer has an inactive bound ``b`` (:func:`inactive_bound`): the input at and
below which the variant is off its identity branch, so the output is flat
(relu), leaky (leaky_relu, prelu, rrelu) or saturating (elu, selu, celu).
Over a data set, the statistics of a layer are:

* inactive fraction: the fraction of input elements with ``x <= b``;
* zero fraction: the fraction of output elements equal to zero;
* dead units: the units whose input is ``<= b`` at every position of every
  example, and the dead fraction, ``dead units / units``.

A dead relu unit passes no gradient for any example of the data set, so
gradient descent on that data cannot revive it. A leaky unit that is inactive
everywhere still passes a gradient scaled by its slope and can recover. The
counts test ``x > b`` for active, so a NaN input counts as inactive (a unit
that is NaN for every example counts as dead), and a NaN output is not zero.

The framework modules count with these definitions: ``relu_xf.monitor.torch``
(forward hooks), ``relu_xf.monitor.keras`` (a callback for every Keras
backend) and ``relu_xf.monitor.jax`` (a function of the pre-activations). They
reduce each batch to :class:`BatchCounts` and add it to a :class:`UnitCounter`,
so the same model and data give the same numbers in every framework. This
module imports only NumPy, and matplotlib inside :func:`plot_dead_fractions`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._registry import resolve_variant
from .._spec import BoundParams, Variant

__all__ = [
    "BatchCounts",
    "DeadUnitHistory",
    "LayerStats",
    "Measurement",
    "UnitCounter",
    "count_batch",
    "format_report",
    "inactive_bound",
    "normalize_unit_axis",
    "plot_dead_fractions",
]

# Variants whose identity branch starts above a parameter or a constant other than 0.
# Every other variant is off its identity branch at x <= 0: relu's flat side, the
# leak of leaky_relu, prelu and rrelu, the exponential side of elu, selu and celu,
# the relu(x) half of crelu, and the side of gelu, silu, mish and softplus where
# the output is close to zero.
_THRESHOLD_PARAM = ("relu", "thresholded_relu")
_BOUND_MINUS_3 = ("hard_sigmoid", "hard_swish")


def inactive_bound(
    variant: str | Variant, params: BoundParams | Mapping[str, Any] | None = None
) -> float:
    """Return the input ``b`` at and below which a variant's unit counts as inactive.

    ``b`` is the ``threshold`` parameter for relu and thresholded_relu, -3 for
    hard_sigmoid and hard_swish (output and gradient are 0 at ``x <= -3``) and
    0 for every other variant. For crelu the bound refers to the relu(x) half,
    whose partner relu(-x) is active exactly where that half is inactive.

    Args:
        variant: Variant name, alias or :class:`relu_xf._spec.Variant`.
        params: The variant's parameters; missing ones take their defaults.

    Raises:
        ValueError: Unknown variant, or a parameter out of range.
        TypeError: Unknown parameter, or a parameter of the wrong type.
    """
    spec = resolve_variant(variant)
    if not isinstance(params, BoundParams):
        params = spec.bind(**dict(params or {}))
    if spec.name in _THRESHOLD_PARAM:
        return float(params.threshold)
    if spec.name in _BOUND_MINUS_3:
        return -3.0
    return 0.0


def normalize_unit_axis(shape: Sequence[int], unit_axis: int, layer: str) -> int:
    """Return ``unit_axis`` as a non-negative axis of an activation of ``shape``.

    Raises:
        ValueError: The activation has fewer than 2 dimensions (no batch axis),
            or ``unit_axis`` is out of range or is the batch axis 0.
    """
    ndim = len(shape)
    if ndim < 2:
        raise ValueError(
            f"{layer}: the activation has shape {tuple(shape)}, but the monitor needs a batch "
            "axis 0 and a unit axis; pass batched data of at least 2 dimensions."
        )
    if not -ndim <= unit_axis < ndim:
        raise ValueError(
            f"{layer}: unit_axis={unit_axis} is out of range for an activation of shape "
            f"{tuple(shape)}; it must be in [{-ndim}, {ndim - 1}]."
        )
    axis = unit_axis % ndim
    if axis == 0:
        raise ValueError(
            f"{layer}: unit_axis={unit_axis} is the batch axis of an activation of shape "
            f"{tuple(shape)}; pass the feature or channel axis, for example 1 or -1."
        )
    return axis


@dataclass(frozen=True)
class BatchCounts:
    """The counts of one batch of one layer, from which :class:`UnitCounter` builds statistics.

    Attributes:
        active_per_unit: Number of input elements with ``x > b`` per unit (int64, shape ``(units,)``).
        elements_per_unit: Number of input elements per unit (batch size times positions).
        examples: Batch size.
        zero_outputs: Number of output elements equal to zero, or None when no output was seen.
        output_elements: Number of output elements, or None when no output was seen.
    """

    active_per_unit: np.ndarray
    elements_per_unit: int
    examples: int
    zero_outputs: int | None = None
    output_elements: int | None = None


def count_batch(
    x: Any, y: Any | None, bound: float, unit_axis: int, layer: str = "activation"
) -> BatchCounts:
    """Count one batch of NumPy (or array-like) input ``x`` and output ``y`` of a layer.

    Raises:
        ValueError: See :func:`normalize_unit_axis`.
    """
    x = np.asarray(x)
    axis = normalize_unit_axis(x.shape, unit_axis, layer)
    others = tuple(a for a in range(x.ndim) if a != axis)
    active = np.asarray(np.sum(x > bound, axis=others, dtype=np.int64))
    zero_outputs = output_elements = None
    if y is not None:
        y = np.asarray(y)
        zero_outputs = int(np.count_nonzero(y == 0))
        output_elements = int(y.size)
    return BatchCounts(
        active_per_unit=active,
        elements_per_unit=int(x.size // x.shape[axis]),
        examples=int(x.shape[0]),
        zero_outputs=zero_outputs,
        output_elements=output_elements,
    )


@dataclass(frozen=True)
class LayerStats:
    """The statistics of one activation layer over a data set; see the module docstring.

    Attributes:
        name: Layer name (module path in torch, layer name in Keras, dict key in JAX).
        variant: Canonical variant name.
        units: Number of units along the unit axis.
        examples: Number of examples counted.
        dead_units: Number of units inactive at every position of every example.
        dead_fraction: ``dead_units / units``.
        inactive_fraction: Fraction of input elements at or below the inactive bound.
        zero_fraction: Fraction of output elements equal to zero, or None when no
            output was counted.
        dead_indices: Indices of the dead units along the unit axis.
    """

    name: str
    variant: str
    units: int
    examples: int
    dead_units: int
    dead_fraction: float
    inactive_fraction: float
    zero_fraction: float | None
    dead_indices: tuple[int, ...] = ()


class UnitCounter:
    """Accumulates :class:`BatchCounts` of one layer over the batches of a data set.

    Args:
        name: Layer name used in the statistics and the report.
        variant: Canonical variant name.
    """

    def __init__(self, name: str, variant: str) -> None:
        self.name = name
        self.variant = variant
        self.reset()

    def reset(self) -> None:
        """Forget every batch counted so far."""
        self._active: np.ndarray | None = None
        self._elements_per_unit = 0
        self._examples = 0
        self._zero_outputs = 0
        self._output_elements = 0
        self._outputs_missing = False

    @property
    def examples(self) -> int:
        """Number of examples counted since the last reset."""
        return self._examples

    def add(self, counts: BatchCounts) -> None:
        """Add one batch.

        Raises:
            ValueError: The batch has a different number of units than earlier batches.
        """
        active = np.asarray(counts.active_per_unit, dtype=np.int64)
        if self._active is None:
            self._active = active.copy()
        elif self._active.shape != active.shape:
            raise ValueError(
                f"{self.name}: a batch has {active.size} units along the unit axis, but earlier "
                f"batches had {self._active.size}; check unit_axis and the input shapes."
            )
        else:
            self._active += active
        self._elements_per_unit += counts.elements_per_unit
        self._examples += counts.examples
        if counts.zero_outputs is None or counts.output_elements is None:
            self._outputs_missing = True
        else:
            self._zero_outputs += counts.zero_outputs
            self._output_elements += counts.output_elements

    def stats(self) -> LayerStats:
        """Return the statistics of the batches added since the last reset.

        Raises:
            ValueError: No batch was added.
        """
        if self._active is None or self._elements_per_unit == 0:
            raise ValueError(
                f"{self.name}: no batch was counted, so there are no statistics; run the model "
                "on at least one non-empty batch while the monitor is attached."
            )
        units = int(self._active.size)
        dead = np.flatnonzero(self._active == 0)
        total = units * self._elements_per_unit
        zero_fraction = None
        if not self._outputs_missing and self._output_elements > 0:
            zero_fraction = self._zero_outputs / self._output_elements
        return LayerStats(
            name=self.name,
            variant=self.variant,
            units=units,
            examples=self._examples,
            dead_units=int(dead.size),
            dead_fraction=dead.size / units,
            inactive_fraction=(total - int(self._active.sum())) / total,
            zero_fraction=zero_fraction,
            dead_indices=tuple(int(i) for i in dead),
        )


@dataclass(frozen=True)
class Measurement:
    """The statistics of every monitored layer at one training step, in model order."""

    step: int
    layers: Mapping[str, LayerStats]


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100.0 * value:.1f}%"


def _signed(value: int) -> str:
    return f"{value:+d}" if value else "0"


def format_report(current: Measurement, previous: Measurement | None = None) -> str:
    """Format a measurement as a table: units, dead, inactive and zero fraction per layer.

    The change columns give the difference since ``previous`` in dead units
    and, in percentage points, in inactive fraction. They read ``-`` for the
    first measurement and for layers that ``previous`` lacks.
    """
    examples = max((s.examples for s in current.layers.values()), default=0)
    header = ("layer", "variant", "units", "dead", "inactive", "zero", "dead chg", "inactive chg")
    rows = []
    for name, stats in current.layers.items():
        before = previous.layers.get(name) if previous is not None else None
        dead_change = "-" if before is None else _signed(stats.dead_units - before.dead_units)
        inactive_change = "-"
        if before is not None:
            points = 100.0 * (stats.inactive_fraction - before.inactive_fraction)
            inactive_change = f"{points:+.1f} pp"
        rows.append(
            (
                name,
                stats.variant,
                str(stats.units),
                f"{stats.dead_units} ({_percent(stats.dead_fraction)})",
                _percent(stats.inactive_fraction),
                _percent(stats.zero_fraction),
                dead_change,
                inactive_change,
            )
        )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    # Names and variants align left, numbers align right.
    left = (0, 1)

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    title = f"step {current.step}: {len(rows)} activation layers, {examples} examples"
    return "\n".join([title, line(header), *(line(row) for row in rows)])


@dataclass
class DeadUnitHistory:
    """The measurements of a training run, in the order they were taken."""

    measurements: list[Measurement] = field(default_factory=list)

    def append(self, measurement: Measurement) -> None:
        """Add a measurement."""
        self.measurements.append(measurement)

    @property
    def latest(self) -> Measurement:
        """The most recent measurement.

        Raises:
            IndexError: No measurement was taken yet.
        """
        if not self.measurements:
            raise IndexError("the history is empty; take a measurement first")
        return self.measurements[-1]

    def report(self, index: int = -1) -> str:
        """Format measurement ``index`` with the changes since the one before it."""
        if not self.measurements:
            raise IndexError("the history is empty; take a measurement first")
        position = index % len(self.measurements)
        previous = self.measurements[position - 1] if position > 0 else None
        return format_report(self.measurements[position], previous)

    def dead_fractions(self) -> dict[str, tuple[list[int], list[float]]]:
        """Return, per layer, the steps and dead fractions of every measurement of it."""
        series: dict[str, tuple[list[int], list[float]]] = {}
        for measurement in self.measurements:
            for name, stats in measurement.layers.items():
                steps, fractions = series.setdefault(name, ([], []))
                steps.append(measurement.step)
                fractions.append(stats.dead_fraction)
        return series

    def plot(self, path: str | os.PathLike[str] | None = None, title: str | None = None) -> Any:
        """Draw the dead fraction per layer over steps; see :func:`plot_dead_fractions`."""
        return plot_dead_fractions(self.measurements, path, title=title)


def plot_dead_fractions(
    measurements: Iterable[Measurement] | DeadUnitHistory,
    path: str | os.PathLike[str] | None = None,
    *,
    title: str | None = None,
) -> Any:
    """Draw the dead fraction of each layer against the training step; return the ``Figure``.

    The figure is drawn on matplotlib's Agg canvas directly, so the caller's
    pyplot backend is left as it is. With ``path`` the figure is also written
    there as a PNG.

    Raises:
        ImportError: matplotlib is not installed.
        ValueError: There is no measurement to plot.
    """
    if isinstance(measurements, DeadUnitHistory):
        history = measurements
    else:
        history = DeadUnitHistory(list(measurements))
    series = history.dead_fractions()
    if not series:
        raise ValueError("there are no measurements to plot; take at least one measurement first")
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            "plot_dead_fractions needs matplotlib, which is not installed. "
            "Install it with: pip install matplotlib"
        ) from error

    figure = Figure(figsize=(7.0, 4.2), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for name, (steps, fractions) in series.items():
        axes.plot(steps, [100.0 * f for f in fractions], marker="o", markersize=3, label=name)
    axes.set_xlabel("training step")
    axes.set_ylabel("dead units (%)")
    axes.set_ylim(-2.0, 102.0)
    axes.set_title(title or "Dead units per activation layer")
    axes.grid(True, color="0.92")
    axes.legend(loc="best")
    if path is not None:
        figure.savefig(os.fspath(path), format="png", metadata={"Software": None})
    return figure
