"""The torch and JAX monitors give identical numbers for the same model, weights and data.

Keras is compared in tests/test_monitor_keras.py, which needs one process per
Keras backend.
"""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("jax")

import jax.numpy as jnp  # noqa: E402
import torch  # noqa: E402

from relu_xf.monitor.jax import measure  # noqa: E402
from relu_xf.monitor.torch import DeadUnitMonitor  # noqa: E402
from tests.monitor_scripts import mlp_case  # noqa: E402
from tests.test_monitor_jax import ACTIVATIONS, apply_mlp  # noqa: E402
from tests.test_monitor_torch import build_mlp  # noqa: E402


def test_torch_and_jax_identical():
    assert mlp_case.min_margin() > 1e-4
    data = mlp_case.data()
    by_torch = DeadUnitMonitor(build_mlp()).measure(torch.from_numpy(data), step=0)
    by_jax = measure(*apply_mlp(jnp.asarray(data)), activation=ACTIVATIONS, step=0)
    assert mlp_case.stats_rows(by_torch) == mlp_case.stats_rows(by_jax)
    assert mlp_case.stats_rows(by_torch) == mlp_case.expected_stats()
