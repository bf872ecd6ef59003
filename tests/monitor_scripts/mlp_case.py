"""A tiny MLP with fixed weights and data, shared by the monitor tests of every framework.

The network is x -> dense -> relu -> dense -> leaky_relu(0.1) -> dense ->
thresholded_relu(0.5), in float32. Some biases are far below zero so that the
first two layers have dead units. :func:`expected_stats` computes the
statistics from float64 pre-activations with NumPy alone, writing each
definition out directly, and :func:`min_margin` returns how far every
pre-activation is from its layer's bound, so float32 rounding in a framework
cannot move an element across it.
"""

from __future__ import annotations

import numpy as np

import relu_xf
from relu_xf.numpy import reference_value

# (layer name, variant, parameters, inactive bound written out by hand)
LAYERS = (
    ("act1", "relu", {}, 0.0),
    ("act2", "leaky_relu", {"negative_slope": 0.1}, 0.0),
    ("act3", "thresholded_relu", {"threshold": 0.5}, 0.5),
)
SIZES = (6, 12, 10, 8)
EXAMPLES = 64


def weights() -> list[tuple[np.ndarray, np.ndarray]]:
    """Return (kernel, bias) per dense layer, kernel of shape (inputs, units), float32."""
    rng = np.random.default_rng(1234)
    layers = []
    for fan_in, units in zip(SIZES[:-1], SIZES[1:], strict=True):
        kernel = rng.normal(0.0, 1.0 / np.sqrt(fan_in), (fan_in, units))
        bias = rng.normal(0.0, 0.3, units)
        layers.append((kernel.astype(np.float32), bias.astype(np.float32)))
    # Units 0-2 of the first layer and 0-1 of the second sit far below zero: dead units.
    layers[0][1][:3] = -20.0
    layers[1][1][:2] = -20.0
    return layers


def data() -> np.ndarray:
    """Return the input batch, shape (EXAMPLES, SIZES[0]), float32 in [0, 1)."""
    return np.random.default_rng(99).random((EXAMPLES, SIZES[0])).astype(np.float32)


def preactivations() -> list[tuple[np.ndarray, np.ndarray]]:
    """Return the float64 (input, output) of each activation layer."""
    h = data().astype(np.float64)
    pairs = []
    for (kernel, bias), (_, name, params, _) in zip(weights(), LAYERS, strict=True):
        x = h @ kernel.astype(np.float64) + bias.astype(np.float64)
        variant = relu_xf.spec(name)
        h = reference_value(variant, variant.bind(**params), x)
        pairs.append((x, h))
    return pairs


def min_margin() -> float:
    """Return the smallest distance of a pre-activation from its layer's bound."""
    return min(
        float(np.min(np.abs(x - bound)))
        for (x, _), (*_, bound) in zip(preactivations(), LAYERS, strict=True)
    )


def expected_stats() -> list[dict[str, object]]:
    """Return units, dead units, dead indices and fractions per layer, in layer order."""
    rows = []
    for (x, y), (_, _, _, bound) in zip(preactivations(), LAYERS, strict=True):
        inactive = x <= bound
        dead = np.all(inactive, axis=0)
        rows.append(
            {
                "units": x.shape[1],
                "dead_units": int(dead.sum()),
                "dead_indices": [int(i) for i in np.flatnonzero(dead)],
                "dead_fraction": float(dead.mean()),
                "inactive_fraction": float(inactive.mean()),
                "zero_fraction": float(np.mean(y == 0)),
            }
        )
    return rows


def stats_rows(measurement) -> list[dict[str, object]]:
    """Return a measurement's layers in the form of :func:`expected_stats`."""
    return [
        {
            "units": s.units,
            "dead_units": s.dead_units,
            "dead_indices": list(s.dead_indices),
            "dead_fraction": s.dead_fraction,
            "inactive_fraction": s.inactive_fraction,
            "zero_fraction": s.zero_fraction,
        }
        for s in measurement.layers.values()
    ]
