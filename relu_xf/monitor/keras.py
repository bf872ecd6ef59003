"""Dead and sparse unit statistics of a Keras 3 model, on any Keras backend.

:func:`measure_model` runs a data set through a probe model: a functional
sub-model with the model's inputs whose outputs are the input and output of
every relu_xf activation layer (``relu_xf.keras.ReLU``, ``relu_xf.keras.PReLU``
and the other layers of ``relu_xf.keras.LAYERS``) among the model's top-level
layers. :class:`DeadUnitCallback` does that during ``fit`` every few epochs or
steps and keeps the measurements in ``history``. The probe shares the model's
variables, so it always sees the current weights. The unit axis defaults to
-1, the channels-last layout of Keras; for a 2-D activation ``(batch, units)``
axis -1 is also axis 1. The definitions are in :mod:`relu_xf.monitor`.

The model must be a Sequential or functional model that has been built on an
input (``keras.Input``), because a subclassed model has no graph to take the
layers' inputs from. Layers inside a nested model are not found; monitor the
nested model itself. Activations given as ``activation="relu_xf>relu"`` inside
a Dense layer are not monitored either; use an activation layer instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import keras

from .._keras_layers import PReLU, _ActivationLayer
from . import (
    DeadUnitHistory,
    Measurement,
    UnitCounter,
    count_batch,
    inactive_bound,
)

__all__ = ["DeadUnitCallback", "activation_layers", "measure_model"]


def activation_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Return the relu_xf activation layers among ``model.layers``, in model order."""
    return [layer for layer in model.layers if isinstance(layer, (_ActivationLayer, PReLU))]


def _bound(layer: keras.layers.Layer) -> float:
    if isinstance(layer, _ActivationLayer):
        return inactive_bound(layer.variant, layer._params)
    return 0.0


def _build_probe(model: keras.Model, layers: list[keras.layers.Layer]) -> keras.Model:
    inputs = getattr(model, "inputs", None)
    if not inputs:
        raise ValueError(
            f"model {model.name!r} has no symbolic inputs, so its layers' inputs cannot be "
            "read; build it as a Sequential or functional model that starts with keras.Input."
        )
    outputs = []
    for layer in layers:
        try:
            outputs.extend([layer.input, layer.output])
        except (AttributeError, ValueError) as error:
            raise ValueError(
                f"layer {layer.name!r} has no single input and output in model {model.name!r} "
                f"({error}); a layer called more than once cannot be monitored."
            ) from error
    return keras.Model(inputs, outputs, name=f"{model.name}_dead_unit_probe")


def _inputs_of(data: Any) -> Any:
    # A tuple follows Keras' (x, y) or (x, y, sample_weight) convention; a list or
    # dict is the input of a model with several inputs.
    if isinstance(data, tuple):
        return data[0]
    return data


def _length(x: Any) -> int:
    lengths = {len(leaf) for leaf in keras.tree.flatten(x)}
    if len(lengths) != 1:
        raise ValueError(
            f"the model inputs have different numbers of examples {sorted(lengths)}; "
            "every input array needs the same first dimension."
        )
    return lengths.pop()


class _Prober:
    """A probe model with one counter per activation layer."""

    def __init__(self, model: keras.Model, unit_axis: int) -> None:
        layers = activation_layers(model)
        if not layers:
            raise ValueError(
                f"model {model.name!r} has no relu_xf activation layer among its top-level "
                "layers; add layers such as relu_xf.keras.ReLU() to monitor them."
            )
        self.layers = layers
        self.unit_axis = unit_axis
        self.bounds = [_bound(layer) for layer in layers]
        self.probe = _build_probe(model, layers)

    def measure(self, data: Any, step: int, batch_size: int) -> Measurement:
        x = _inputs_of(data)
        total = _length(x)
        if total == 0:
            raise ValueError("the data set is empty; pass at least one example.")
        counters = [UnitCounter(layer.name, layer.variant.name) for layer in self.layers]
        for start in range(0, total, batch_size):
            stop = start + batch_size
            batch = keras.tree.map_structure(lambda a, lo=start, hi=stop: a[lo:hi], x)
            values = self.probe(batch, training=False)
            for index, counter in enumerate(counters):
                layer_input = keras.ops.convert_to_numpy(values[2 * index])
                layer_output = keras.ops.convert_to_numpy(values[2 * index + 1])
                counter.add(
                    count_batch(
                        layer_input,
                        layer_output,
                        self.bounds[index],
                        self.unit_axis,
                        counter.name,
                    )
                )
        return Measurement(step=int(step), layers={c.name: c.stats() for c in counters})


def measure_model(
    model: keras.Model,
    data: Any,
    *,
    step: int = 0,
    unit_axis: int = -1,
    batch_size: int = 256,
) -> Measurement:
    """Run ``data`` through ``model`` with ``training=False`` and return the statistics.

    Args:
        model: A built Sequential or functional model.
        data: The input array, a list or dict of arrays for several inputs, or
            a tuple ``(x, y)`` or ``(x, y, sample_weight)`` whose ``x`` is used.
        step: Training step recorded with the measurement.
        unit_axis: Axis of the units in every activation (default -1).
        batch_size: Examples per forward pass.

    Raises:
        ValueError: The model has no relu_xf activation layer or no symbolic
            inputs, the data is empty, or an activation has an invalid shape
            for ``unit_axis``.
    """
    return _Prober(model, unit_axis).measure(data, step, batch_size)


class DeadUnitCallback(keras.callbacks.Callback):
    """Measures dead and sparse units of a data set during ``fit``.

    The step of a measurement is the number of training batches this
    callback has seen, summed over every ``fit`` call it was passed to.

    Args:
        data: The data set to measure, in a form :func:`measure_model` accepts.
        every_epochs: Measure after every this many epochs; None for never.
        every_steps: Measure after every this many training batches; None for never.
        at_start: Also measure before the first training step.
        unit_axis: Axis of the units in every activation (default -1).
        batch_size: Examples per forward pass of the measurement.
        verbose: Print the report after each measurement.
        plot_path: When given, write the plot of dead fractions there as a PNG
            at the end of training (needs matplotlib).

    Raises:
        ValueError: ``every_epochs`` or ``every_steps`` is not None or a
            positive integer, or ``batch_size`` is not a positive integer.
    """

    def __init__(
        self,
        data: Any,
        *,
        every_epochs: int | None = 1,
        every_steps: int | None = None,
        at_start: bool = True,
        unit_axis: int = -1,
        batch_size: int = 256,
        verbose: bool = False,
        plot_path: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__()
        for label, value in (("every_epochs", every_epochs), ("every_steps", every_steps)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(
                    f"{label}={value!r} is invalid; it must be a positive integer or None."
                )
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(
                f"batch_size={batch_size!r} is invalid; it must be a positive integer."
            )
        self.data = data
        self.every_epochs = every_epochs
        self.every_steps = every_steps
        self.at_start = at_start
        self.unit_axis = unit_axis
        self.batch_size = batch_size
        self.verbose = verbose
        self.plot_path = plot_path
        self.history = DeadUnitHistory()
        self.steps = 0
        self._prober: _Prober | None = None
        self._prober_model: Any = None

    def measure(self) -> Measurement:
        """Measure the data set now and record the result in ``history``."""
        # Reading self.model also syncs the JAX backend's training state into the variables.
        model = self.model
        if self._prober is None or self._prober_model is not model:
            self._prober = _Prober(model, self.unit_axis)
            self._prober_model = model
        measurement = self._prober.measure(self.data, self.steps, self.batch_size)
        self.history.append(measurement)
        if self.verbose:
            print(self.history.report(), flush=True)
        return measurement

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        if self.at_start and not self.history.measurements:
            self.measure()

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        self.steps += 1
        if self.every_steps is not None and self.steps % self.every_steps == 0:
            self.measure()

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        if self.every_epochs is None or (epoch + 1) % self.every_epochs != 0:
            return
        if self.history.measurements and self.history.latest.step == self.steps:
            return
        self.measure()

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        if self.plot_path is not None and self.history.measurements:
            self.history.plot(self.plot_path)

    def report(self, index: int = -1) -> str:
        """Format measurement ``index`` of the history; see :func:`relu_xf.monitor.format_report`."""
        return self.history.report(index)
