"""relu_xf.monitor.jax: statistics from a dict of pre-activations."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")

import jax.numpy as jnp  # noqa: E402

import relu_xf.jax as rj  # noqa: E402
from relu_xf.monitor.jax import DeadUnitMeter, count_batch, measure  # noqa: E402
from tests.monitor_scripts import mlp_case  # noqa: E402

ACTIVATIONS = {name: (variant, params) for name, variant, params, _ in mlp_case.LAYERS}


def apply_mlp(x: jax.Array) -> tuple[dict[str, jax.Array], dict[str, jax.Array]]:
    """Run the shared tiny MLP in JAX; return its pre-activations and outputs by layer name."""
    preactivations, outputs = {}, {}
    h = x
    for (kernel, bias), (name, variant, params, _) in zip(
        mlp_case.weights(), mlp_case.LAYERS, strict=True
    ):
        pre = h @ jnp.asarray(kernel) + jnp.asarray(bias)
        h = getattr(rj, variant)(pre, **params)
        preactivations[name], outputs[name] = pre, h
    return preactivations, outputs


def test_mlp_matches_reference():
    assert mlp_case.min_margin() > 1e-4
    preactivations, outputs = apply_mlp(jnp.asarray(mlp_case.data()))
    measurement = measure(preactivations, outputs, activation=ACTIVATIONS, step=4)
    assert measurement.step == 4
    assert list(measurement.layers) == ["act1", "act2", "act3"]
    assert mlp_case.stats_rows(measurement) == mlp_case.expected_stats()


def test_outputs_computed_when_missing():
    preactivations, _ = apply_mlp(jnp.asarray(mlp_case.data()))
    measurement = measure(preactivations, activation=ACTIVATIONS)
    assert mlp_case.stats_rows(measurement) == mlp_case.expected_stats()


def test_meter_adds_batches():
    x = jnp.asarray(mlp_case.data())
    meter = DeadUnitMeter(ACTIVATIONS)
    for start in range(0, len(x), 24):
        meter.update(*apply_mlp(x[start : start + 24]))
    measurement = meter.result(step=2)
    assert mlp_case.stats_rows(measurement) == mlp_case.expected_stats()
    assert measurement.layers["act1"].examples == len(x)
    assert meter.history.latest is measurement


def test_meter_result_resets():
    meter = DeadUnitMeter()
    meter.update({"h": jnp.array([[-1.0, 1.0]])})
    assert meter.result(0).layers["h"].dead_indices == (0,)
    meter.update({"h": jnp.array([[1.0, -1.0]])})
    assert meter.result(1).layers["h"].dead_indices == (1,)
    assert "dead chg" in meter.report()


def test_result_without_batches_raises():
    with pytest.raises(ValueError, match="no batch"):
        DeadUnitMeter().result(0)


def test_empty_preactivations_raise():
    with pytest.raises(ValueError, match="empty"):
        measure({})


def test_missing_layer_in_mapping_raises():
    with pytest.raises(KeyError, match="hidden"):
        measure({"hidden": jnp.ones((2, 3))}, activation={"other": "relu"})


def test_bad_activation_spec_raises():
    with pytest.raises(TypeError, match="pair"):
        measure({"hidden": jnp.ones((2, 3))}, activation=("relu", 0.5))


def test_threshold_param_sets_bound():
    x = jnp.array([[0.5, 0.6], [0.2, 0.7]])
    stats = measure({"h": x}, activation=("relu", {"threshold": 0.5})).layers["h"]
    assert stats.dead_indices == (0,)
    assert stats.inactive_fraction == 0.5


def test_channels_last_images():
    x = jnp.ones((2, 4, 4, 3)).at[..., 1].set(-1.0)
    stats = measure({"conv": x}).layers["conv"]
    assert stats.units == 3
    assert stats.dead_indices == (1,)
    assert stats.zero_fraction == pytest.approx(1 / 3)


def test_channels_first_unit_axis():
    x = jnp.ones((2, 3, 4)).at[:, 2].set(-1.0)
    stats = measure({"h": x}, unit_axis=1).layers["h"]
    assert stats.dead_indices == (2,)


def test_batch_axis_rejected():
    with pytest.raises(ValueError, match="batch axis"):
        measure({"h": jnp.ones((2, 3))}, unit_axis=0)


def test_prelu_zero_fraction_needs_outputs():
    x = jnp.array([[-1.0, 2.0]])
    assert measure({"p": x}, activation="prelu").layers["p"].zero_fraction is None
    y = rj.prelu(x, jnp.array(0.25))
    stats = measure({"p": x}, {"p": y}, activation="prelu").layers["p"]
    assert stats.zero_fraction == 0.0
    assert stats.dead_indices == (0,)


def test_bfloat16_preactivations():
    x = jnp.array([[-1.0, 2.0], [0.0, 3.0]], dtype=jnp.bfloat16)
    counts = count_batch(x)
    assert np.asarray(counts.active_per_unit).tolist() == [0, 2]
    assert counts.zero_outputs == 2


def test_jitted_apply_outputs():
    # measure returns host values, so it runs after jit on the concrete arrays.
    preactivations, outputs = jax.jit(apply_mlp)(jnp.asarray(mlp_case.data()))
    measurement = measure(preactivations, outputs, activation=ACTIVATIONS)
    assert mlp_case.stats_rows(measurement) == mlp_case.expected_stats()
