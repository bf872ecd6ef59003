"""Dead and sparse unit statistics of a PyTorch model, counted by forward hooks.

:class:`DeadUnitMonitor` finds every relu_xf activation module in a model
(subclasses of ``relu_xf.torch._Activation``, ``relu_xf.torch.RReLU`` and
``relu_xf.torch.PReLU``) and, while attached, counts each module's input in a
forward pre-hook and its output in a forward hook. Counting the input before
the module runs keeps in-place modules (``inplace=True``) correct. The unit
axis defaults to 1, the channel axis of PyTorch's channels-first layout and of
``relu_xf.torch.PReLU``. For a 2-D activation ``(batch, units)`` axis 1 is
also the last axis. The definitions are in :mod:`relu_xf.monitor`.

Typical use in a training loop::

    monitor = DeadUnitMonitor(model)
    for step, (x, y) in enumerate(loader):
        ...  # one optimizer step
        if step % 100 == 0:
            monitor.measure(probe_batches, step)
            print(monitor.report())
    monitor.plot("dead_units.png")
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from ..torch import PReLU, RReLU, _Activation
from . import (
    BatchCounts,
    DeadUnitHistory,
    Measurement,
    UnitCounter,
    inactive_bound,
    normalize_unit_axis,
)

__all__ = ["DeadUnitMonitor", "activation_modules"]


def _variant_and_bound(module: nn.Module) -> tuple[str, float]:
    if isinstance(module, _Activation):
        return module.variant.name, inactive_bound(module.variant, module.params)
    if isinstance(module, RReLU):
        return "rrelu", 0.0
    return "prelu", 0.0


def activation_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Return ``(name, module)`` for every relu_xf activation module in ``model``, in model order.

    A module reachable under several names is listed once, under its first name.
    The model itself, when it is an activation module, is named by its class.
    """
    found: list[tuple[str, nn.Module]] = []
    for name, module in model.named_modules():
        if isinstance(module, (_Activation, RReLU, PReLU)):
            found.append((name or type(module).__name__, module))
    return found


class DeadUnitMonitor:
    """Counts dead, inactive and zero units of every relu_xf activation module in a model.

    Use :meth:`measure` to run a data set through the model and record a
    :class:`relu_xf.monitor.Measurement`, or attach the hooks yourself (``with
    monitor:`` or :meth:`attach`), run forward passes, and call :meth:`result`.

    Args:
        model: The model to monitor.
        unit_axis: Axis of the units in every activation (default 1). Use -1
            for channels-last activations such as ``(batch, tokens, features)``.

    Raises:
        ValueError: ``model`` contains no relu_xf activation module.
        TypeError: ``unit_axis`` is not an integer.
    """

    def __init__(self, model: nn.Module, unit_axis: int = 1) -> None:
        if not isinstance(unit_axis, int) or isinstance(unit_axis, bool):
            raise TypeError(f"unit_axis={unit_axis!r} is invalid; it must be an integer axis.")
        layers = activation_modules(model)
        if not layers:
            raise ValueError(
                f"{type(model).__name__} contains no relu_xf activation module, so there is "
                "nothing to monitor; build the model with relu_xf.torch modules such as "
                "relu_xf.torch.ReLU()."
            )
        self.model = model
        self.unit_axis = unit_axis
        self.history = DeadUnitHistory()
        self._modules = layers
        self._bounds: dict[str, float] = {}
        self._counters: dict[str, UnitCounter] = {}
        for name, module in layers:
            variant, bound = _variant_and_bound(module)
            self._bounds[name] = bound
            self._counters[name] = UnitCounter(name, variant)
        self._pending: dict[str, BatchCounts] = {}
        self._handles: list[Any] = []

    @property
    def layer_names(self) -> list[str]:
        """Names of the monitored modules, in model order."""
        return [name for name, _ in self._modules]

    @property
    def attached(self) -> bool:
        """Whether the hooks are attached."""
        return bool(self._handles)

    def attach(self) -> DeadUnitMonitor:
        """Attach the hooks; every forward pass from now on is counted. Attaching twice is a no-op."""
        if self._handles:
            return self
        for name, module in self._modules:
            self._handles.append(module.register_forward_pre_hook(self._input_hook(name)))
            self._handles.append(module.register_forward_hook(self._output_hook(name)))
        return self

    def detach(self) -> None:
        """Remove every hook this monitor attached; the counts are kept."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._pending.clear()

    def __enter__(self) -> DeadUnitMonitor:
        return self.attach()

    def __exit__(self, *exc_info: object) -> None:
        self.detach()

    def reset(self) -> None:
        """Forget the counts of every forward pass so far."""
        for counter in self._counters.values():
            counter.reset()
        self._pending.clear()

    def _input_hook(self, name: str) -> Callable[..., None]:
        bound = self._bounds[name]

        def hook(module: nn.Module, args: tuple[Any, ...]) -> None:
            x = args[0].detach()
            axis = normalize_unit_axis(tuple(x.shape), self.unit_axis, name)
            others = tuple(a for a in range(x.ndim) if a != axis)
            active = (x > bound).sum(dim=others, dtype=torch.int64)
            self._pending[name] = BatchCounts(
                active_per_unit=active.cpu().numpy(),
                elements_per_unit=x.numel() // x.shape[axis],
                examples=int(x.shape[0]),
            )

        return hook

    def _output_hook(self, name: str) -> Callable[..., None]:
        def hook(module: nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> None:
            pending = self._pending.pop(name)
            y = output.detach()
            self._counters[name].add(
                BatchCounts(
                    active_per_unit=pending.active_per_unit,
                    elements_per_unit=pending.elements_per_unit,
                    examples=pending.examples,
                    zero_outputs=int(torch.count_nonzero(y == 0)),
                    output_elements=y.numel(),
                )
            )

        return hook

    def result(self, step: int) -> Measurement:
        """Return the statistics counted since the last reset, record them in ``history`` and reset.

        Modules that no counted forward pass reached are left out.

        Raises:
            ValueError: No module was reached by a counted forward pass.
        """
        layers = {
            name: counter.stats()
            for name, counter in self._counters.items()
            if counter.examples > 0
        }
        if not layers:
            raise ValueError(
                "no relu_xf activation module ran while the monitor was attached; run the model "
                "inside 'with monitor:' or call monitor.measure(data, step)."
            )
        measurement = Measurement(step=int(step), layers=layers)
        self.history.append(measurement)
        self.reset()
        return measurement

    def measure(
        self,
        data: torch.Tensor | Iterable[Any],
        step: int,
        forward: Callable[[nn.Module, Any], Any] | None = None,
    ) -> Measurement:
        """Run ``data`` through the model in eval mode without gradients and record the statistics.

        The model's training flags are restored afterwards, and the hooks are
        detached again unless they were attached before the call. Counts from
        earlier forward passes are discarded first.

        Args:
            data: One input tensor, or an iterable of batches (for example a
                ``DataLoader``). A batch that is a tuple or list contributes its
                first element as the model input.
            step: Training step recorded with the measurement.
            forward: Optional ``forward(model, batch)`` that runs one batch, for
                models whose input is not the first element of the batch.

        Raises:
            ValueError: No relu_xf activation module ran, or an activation has
                an invalid shape for ``unit_axis``.
        """
        batches: Iterable[Any] = [data] if isinstance(data, torch.Tensor) else data
        was_attached = self.attached
        training = {module: module.training for module in self.model.modules()}
        self.reset()
        self.attach()
        try:
            self.model.eval()
            with torch.no_grad():
                for batch in batches:
                    if forward is not None:
                        forward(self.model, batch)
                    elif isinstance(batch, (tuple, list)):
                        self.model(batch[0])
                    else:
                        self.model(batch)
        finally:
            for module, flag in training.items():
                module.training = flag
            if not was_attached:
                self.detach()
        return self.result(step)

    def report(self, index: int = -1) -> str:
        """Format measurement ``index`` of the history; see :func:`relu_xf.monitor.format_report`."""
        return self.history.report(index)

    def plot(self, path: str | os.PathLike[str] | None = None, title: str | None = None) -> Any:
        """Draw the dead fraction per layer over steps; see :func:`relu_xf.monitor.plot_dead_fractions`."""
        return self.history.plot(path, title=title)
