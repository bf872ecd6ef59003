"""Run tests/keras_scripts/keras_checks.py under each Keras backend, one process each.

Keras fixes its backend when it is first imported, so every backend needs its
own interpreter. A failing run reports the child's pytest output.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("keras")

CHECKS = Path(__file__).parent / "keras_scripts" / "keras_checks.py"
FRAMEWORKS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


@pytest.mark.parametrize("backend", sorted(FRAMEWORKS))
def test_keras_backend(backend, tmp_path):
    if importlib.util.find_spec(FRAMEWORKS[backend]) is None:
        pytest.skip(f"{FRAMEWORKS[backend]} is not installed")
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    if backend == "jax":
        # Without 64-bit mode JAX truncates float64, and the float64 checks xfail.
        env["JAX_ENABLE_X64"] = "1"
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
        f"keras checks failed under KERAS_BACKEND={backend}:\n{run.stdout}\n{run.stderr}"
    )
