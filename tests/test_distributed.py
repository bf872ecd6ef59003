"""Run relu_xf inside each framework's distributed engine on CPU and compare with one device.

Each test runs one script from examples/ in a fresh interpreter, because the
device count (XLA_FLAGS, TensorFlow's logical devices) and the Keras backend
are fixed when the framework starts. The script sets them before importing
the framework and writes its measurements with ``--out``. The test kills the
script's whole process group (the PyTorch script starts two rank processes)
when it fails or runs past its timeout.

Tolerances for the trained parameters: float32 rtol 1e-5, atol 1e-6, which
is about 8 float32 ULPs (2**-23 = 1.2e-7) at magnitude 1. A distributed step
sums the per-sample gradient terms per device and then across devices, a
different order than one full-batch sum, so each gradient entry may differ by
a few roundings, and five momentum SGD steps carry those differences forward.
The measured differences are about 6e-8. In float64 the same PyTorch run
differs by about 1e-16, which shows that the float32 gap is rounding.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TIMEOUT = 300
FLOAT32_TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}
FLOAT64_TOLERANCE = {"rtol": 1e-12, "atol": 1e-14}


def require(*modules: str) -> None:
    for module in modules:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")


def run_example(name: str, *args: str) -> str:
    """Run examples/<name> in its own process group and return its stdout.

    Fails the test when the script exits non-zero. On a timeout or an interrupt
    it first kills every process in the group. The PyTorch launcher kills its
    own ranks when one fails.
    """
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("XLA_FLAGS", None)
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLES / name), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    except BaseException as error:
        # The script has not been reaped yet, so its group id still names only its processes.
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        if not isinstance(error, subprocess.TimeoutExpired):
            raise
        pytest.fail(f"{name} did not finish within {TIMEOUT} s:\n{stdout}\n{stderr}")
    assert process.returncode == 0, f"{name} failed:\n{stdout}\n{stderr}"
    return stdout


@pytest.mark.parametrize(
    "dtype, tolerance", [("float32", FLOAT32_TOLERANCE), ("float64", FLOAT64_TOLERANCE)]
)
def test_torch_ddp_matches_single_process(dtype, tolerance, tmp_path):
    require("torch")
    run_example("distributed_torch.py", "--dtype", dtype, "--out", str(tmp_path))
    rank0 = np.load(tmp_path / "rank0.npz")
    rank1 = np.load(tmp_path / "rank1.npz")
    single = np.load(tmp_path / "single.npz")
    summary = json.loads((tmp_path / "summary.json").read_text())

    assert sorted(rank0.files) == sorted(single.files)
    assert any(name.endswith("weight") and rank0[name].ndim == 1 for name in rank0.files)
    for name in single.files:
        np.testing.assert_array_equal(rank0[name], rank1[name], err_msg=f"ranks differ in {name}")
        np.testing.assert_allclose(rank0[name], single[name], **tolerance, err_msg=name)
    np.testing.assert_allclose(summary["rank0_losses"], summary["single_losses"], **tolerance)
    for addresses in summary["listening"]:
        assert addresses, "no listening socket found in /proc for a rank"
        assert all(a.startswith("127.0.0.1:") for a in addresses), addresses
    assert f"127.0.0.1:{summary['port']}" in summary["listening"][0]


def test_jax_sharded_jit_matches_single_device(tmp_path):
    require("jax")
    out = tmp_path / "jax.json"
    run_example("distributed_jax.py", "--out", str(out))
    results = json.loads(out.read_text())
    assert results["devices"] == 8

    for name, r in results["activations"].items():
        assert r["value_collectives"] == r["plain_value_collectives"], name
        assert r["grad_collectives"] == r["plain_grad_collectives"], name
        if name != "crelu":
            # Concatenating along a sharded axis moves data, but an elementwise op needs none.
            assert sum(r["value_collectives"].values()) == 0, (name, r["value_collectives"])
        assert r["value_max_abs_diff"] == 0.0, name
        assert r["grad_x_max_abs_diff"] == 0.0, name
        # The slope gradient sums over the batch, across devices when sharded.
        assert r["grad_slope_max_abs_diff"] <= 1e-5, name
    assert results["activations"]["prelu"]["grad_collectives"]["all-reduce"] >= 1

    training = results["training"]
    assert training["slope_sharding"] == "P('model',)"
    assert training["collectives"] == training["plain_collectives"]
    np.testing.assert_allclose(
        training["losses_sharded"], training["losses_single"], **FLOAT32_TOLERANCE
    )
    for name, value in training["single_params"].items():
        np.testing.assert_allclose(
            training["sharded_params"][name], value, **FLOAT32_TOLERANCE, err_msg=name
        )


def test_tf_mirrored_strategy_matches_single_device(tmp_path):
    require("tensorflow", "keras")
    out = tmp_path / "tf.json"
    run_example("distributed_tf.py", "--out", str(out))
    results = json.loads(out.read_text())

    assert results["replicas"] == 2
    assert results["replica_rows"] == ["replica 0 rows 8", "replica 1 rows 8"]
    assert results["slope_variable"] == "MirroredVariable"
    assert results["slope_replicas_equal"]
    np.testing.assert_allclose(
        results["mirrored_losses"], results["single_losses"], **FLOAT32_TOLERANCE
    )
    pairs = zip(results["mirrored_weights"], results["single_weights"], strict=True)
    for index, (mirrored, single) in enumerate(pairs):
        np.testing.assert_allclose(mirrored, single, **FLOAT32_TOLERANCE, err_msg=f"weight {index}")


def test_keras_data_parallel_matches_single_device(tmp_path):
    require("jax", "keras")
    out = tmp_path / "keras.json"
    run_example("distributed_keras.py", "--out", str(out))
    results = json.loads(out.read_text())

    assert results["devices"] == 2
    assert results["data_layout_axes"] == ["batch", None]
    assert results["input_shardings"] == ["P('batch',)"]
    assert results["slope_devices"] == 2
    assert results["slope_replicated"]
    np.testing.assert_allclose(
        results["parallel_losses"], results["single_losses"], **FLOAT32_TOLERANCE
    )
    pairs = zip(results["parallel_weights"], results["single_weights"], strict=True)
    for index, (parallel, single) in enumerate(pairs):
        np.testing.assert_allclose(parallel, single, **FLOAT32_TOLERANCE, err_msg=f"weight {index}")
