"""Dead and sparse unit statistics of a JAX model, computed from its pre-activations.

JAX models are functions, so there is nothing to hook: the caller's apply
function returns the input of each activation (the pre-activation) in a dict,
for example ``{"hidden1": h1, "hidden2": h2}``, and :func:`measure` turns it
into a :class:`relu_xf.monitor.Measurement`. For a data set in several batches,
:class:`DeadUnitMeter` adds the batches up. The unit axis defaults to -1, the
channels-last layout of JAX and Flax; for a 2-D activation ``(batch, units)``
axis -1 is also axis 1. The definitions are in :mod:`relu_xf.monitor`.

Each layer's activation is a variant name (``"relu"``), a ``(name, params)``
pair (``("relu", {"threshold": 0.5})``), or a mapping from layer name to
either. The zero fraction counts the outputs passed in ``outputs``; for a
layer without one, the output is computed with the variant's ``relu_xf.jax``
function, except for prelu, whose slope the monitor does not know, and rrelu
with ``training=True``, whose slopes are random; their zero fraction is None.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._registry import resolve_variant
from ..jax import bind
from . import (
    BatchCounts,
    DeadUnitHistory,
    Measurement,
    UnitCounter,
    inactive_bound,
    normalize_unit_axis,
)

__all__ = ["DeadUnitMeter", "count_batch", "measure"]

ActivationSpec = Any


@partial(jax.jit, static_argnames=("bound", "axis"))
def _active_per_unit(x: jax.Array, bound: float, axis: int) -> jax.Array:
    others = tuple(a for a in range(x.ndim) if a != axis)
    return jnp.sum(x > bound, axis=others, dtype=jnp.int32)


def _split_spec(spec: ActivationSpec, layer: str) -> tuple[str, dict[str, Any]]:
    if isinstance(spec, str):
        return spec, {}
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], Mapping):
        return spec[0], dict(spec[1])
    raise TypeError(
        f"{layer}: activation {spec!r} is invalid; pass a variant name such as 'relu' or a "
        "(name, params) pair such as ('relu', {'threshold': 0.5})."
    )


def _spec_for(activation: ActivationSpec | Mapping[str, ActivationSpec], layer: str) -> Any:
    if isinstance(activation, Mapping):
        if layer not in activation:
            raise KeyError(
                f"activation names no variant for layer {layer!r}; add {layer!r} to the mapping "
                f"(it has {sorted(activation)})."
            )
        return activation[layer]
    return activation


def count_batch(
    x: Any,
    activation: ActivationSpec = "relu",
    output: Any | None = None,
    unit_axis: int = -1,
    layer: str = "activation",
) -> BatchCounts:
    """Count one batch of one layer: its pre-activation ``x`` and, optionally, its output.

    Raises:
        ValueError: Unknown variant, a parameter out of range, or an invalid
            ``unit_axis`` (see :func:`relu_xf.monitor.normalize_unit_axis`).
        TypeError: ``activation`` is not a name or a (name, params) pair.
    """
    name, params = _split_spec(activation, layer)
    variant = resolve_variant(name)
    bound_params = variant.bind(**params)
    bound = inactive_bound(variant, bound_params)
    x = jnp.asarray(x)
    axis = normalize_unit_axis(x.shape, unit_axis, layer)
    active = np.asarray(_active_per_unit(x, bound, axis), dtype=np.int64)
    drawn = variant.random and bound_params.training
    if output is None and not variant.learnable and not drawn:
        # rrelu evaluates with its mean slope here, which gives the same zeros as any slope.
        output = bind(variant, bound_params)(x)
    zero_outputs = output_elements = None
    if output is not None:
        output = jnp.asarray(output)
        zero_outputs = int(jnp.count_nonzero(output == 0))
        output_elements = int(output.size)
    return BatchCounts(
        active_per_unit=active,
        elements_per_unit=int(x.size // x.shape[axis]),
        examples=int(x.shape[0]),
        zero_outputs=zero_outputs,
        output_elements=output_elements,
    )


class DeadUnitMeter:
    """Adds up the batches of a data set and records measurements over training.

    Args:
        activation: The variant of every layer, or a mapping from layer name to
            variant; see the module docstring.
        unit_axis: Axis of the units in every pre-activation (default -1).
    """

    def __init__(
        self,
        activation: ActivationSpec | Mapping[str, ActivationSpec] = "relu",
        unit_axis: int = -1,
    ) -> None:
        self.activation = activation
        self.unit_axis = unit_axis
        self.history = DeadUnitHistory()
        self._counters: dict[str, UnitCounter] = {}

    def update(
        self, preactivations: Mapping[str, Any], outputs: Mapping[str, Any] | None = None
    ) -> None:
        """Count one batch: a dict of pre-activations and, optionally, a dict of outputs.

        Raises:
            KeyError: ``activation`` is a mapping that lacks a layer.
            ValueError: Unknown variant, an invalid shape, or a unit count that
                differs from earlier batches.
        """
        for layer, x in preactivations.items():
            spec = _spec_for(self.activation, layer)
            name, _ = _split_spec(spec, layer)
            output = None if outputs is None else outputs.get(layer)
            counts = count_batch(x, spec, output, self.unit_axis, layer)
            counter = self._counters.get(layer)
            if counter is None:
                counter = self._counters[layer] = UnitCounter(layer, resolve_variant(name).name)
            counter.add(counts)

    def result(self, step: int) -> Measurement:
        """Return the statistics of the batches since the last result, record them and reset.

        Raises:
            ValueError: No batch was counted.
        """
        if not self._counters:
            raise ValueError("no batch was counted; call update() with the pre-activations first.")
        measurement = Measurement(
            step=int(step), layers={name: c.stats() for name, c in self._counters.items()}
        )
        self.history.append(measurement)
        self._counters = {}
        return measurement

    def report(self, index: int = -1) -> str:
        """Format measurement ``index`` of the history; see :func:`relu_xf.monitor.format_report`."""
        return self.history.report(index)

    def plot(self, path: Any = None, title: str | None = None) -> Any:
        """Draw the dead fraction per layer over steps; see :func:`relu_xf.monitor.plot_dead_fractions`."""
        return self.history.plot(path, title=title)


def measure(
    preactivations: Mapping[str, Any],
    outputs: Mapping[str, Any] | None = None,
    *,
    activation: ActivationSpec | Mapping[str, ActivationSpec] = "relu",
    unit_axis: int = -1,
    step: int = 0,
) -> Measurement:
    """Return the statistics of one batch that contains the whole data set.

    Args:
        preactivations: Layer name to the activation's input, shape
            ``(batch, ..., units)`` by default.
        outputs: Optional layer name to the activation's output, for the zero fraction.
        activation: Variant of every layer, or a mapping from layer name to variant.
        unit_axis: Axis of the units (default -1).
        step: Training step recorded with the measurement.

    Raises:
        KeyError: ``activation`` is a mapping that lacks a layer.
        ValueError: No pre-activation was given, an unknown variant, or an
            invalid shape for ``unit_axis``.
    """
    if not preactivations:
        raise ValueError("preactivations is empty; pass a dict from layer name to array.")
    meter = DeadUnitMeter(activation, unit_axis)
    meter.update(preactivations, outputs)
    return meter.result(step)
