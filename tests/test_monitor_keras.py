"""Run tests/monitor_scripts/keras_monitor_checks.py under each Keras backend, one process each.

Keras fixes its backend when it is first imported, so every backend needs its
own interpreter. Each run also writes the statistics of the shared tiny MLP,
which must equal the NumPy reference and, where torch is installed, the torch
monitor's numbers for the same weights and data.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("keras")

from tests.monitor_scripts import mlp_case  # noqa: E402

CHECKS = Path(__file__).parent / "monitor_scripts" / "keras_monitor_checks.py"
FRAMEWORKS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


def torch_rows() -> list[dict[str, object]] | None:
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    from relu_xf.monitor.torch import DeadUnitMonitor
    from tests.test_monitor_torch import build_mlp

    measurement = DeadUnitMonitor(build_mlp()).measure(torch.from_numpy(mlp_case.data()), 0)
    return mlp_case.stats_rows(measurement)


@pytest.mark.parametrize("backend", sorted(FRAMEWORKS))
def test_keras_monitor_backend(backend, tmp_path):
    if importlib.util.find_spec(FRAMEWORKS[backend]) is None:
        pytest.skip(f"{FRAMEWORKS[backend]} is not installed")
    out = tmp_path / "mlp.json"
    env = dict(
        os.environ,
        KERAS_BACKEND=backend,
        TF_CPP_MIN_LOG_LEVEL="3",
        RELU_XF_MONITOR_OUT=str(out),
    )
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(CHECKS),
        "-q",
        "-p",
        "no:cacheprovider",
        "--basetemp",
        str(tmp_path / "work"),
        "-W",
        "ignore::DeprecationWarning",
    ]
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, (
        f"monitor checks failed under KERAS_BACKEND={backend}:\n{run.stdout}\n{run.stderr}"
    )
    rows = json.loads(out.read_text())
    assert rows == mlp_case.expected_stats()
    by_torch = torch_rows()
    if by_torch is not None:
        assert rows == by_torch
