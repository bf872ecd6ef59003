"""Run each example with --quick in its own process and check the results it prints."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DIGITS_LINE = re.compile(
    r"^(\S+)(?: \(\w+\))?: test accuracy ([\d.]+), dead units (\d+)/(\d+)", re.M
)
DIFF_LINE = re.compile(r"^  (.+): max abs diff (\S+) \((same|different), tolerance (\S+)\)", re.M)


def _require(*modules: str) -> None:
    for module in modules:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")


def _run(script: str, *args: str) -> str:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    run = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--quick", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, f"{script} {' '.join(args)} failed:\n{run.stdout}\n{run.stderr}"
    return run.stdout


def _digits(*args: str) -> dict[str, tuple[float, int, int]]:
    output = _run("digits_classifier.py", *args)
    results = {m[0]: (float(m[1]), int(m[2]), int(m[3])) for m in DIGITS_LINE.findall(output)}
    assert results, f"no result lines in:\n{output}"
    return results


def test_digits_every_framework_learns():
    _require("sklearn", "torch", "tensorflow", "jax", "keras")
    results = _digits()
    assert sorted(results) == ["jax", "keras", "tf", "torch"]
    accuracies = [accuracy for accuracy, _, _ in results.values()]
    for framework, (accuracy, dead, hidden) in results.items():
        assert accuracy > 0.8, f"{framework}: test accuracy {accuracy}"
        assert 0 <= dead <= hidden == 64
    # Same initial weights, batches and SGD steps: only float32 rounding differs.
    assert max(accuracies) - min(accuracies) <= 0.02


def test_digits_high_lr_kills_relu_units():
    _require("sklearn", "jax")
    relu = _digits("--variant", "relu", "--lr", "2.0", "--frameworks", "jax")["jax"]
    leaky = _digits("--variant", "leaky_relu", "--lr", "2.0", "--frameworks", "jax")["jax"]
    assert relu[1] > leaky[1], f"dead units: relu {relu[1]}, leaky_relu {leaky[1]}"
    assert relu[0] < leaky[0], f"accuracy: relu {relu[0]}, leaky_relu {leaky[0]}"


def _differences(*args: str) -> tuple[list[tuple[str, float]], list[tuple[str, float]], float]:
    output = _run("porting.py", *args)
    relu_xf_part, _, default_part = output.partition("Each framework's own default")
    ported = [(label, float(diff)) for label, diff, _, _ in DIFF_LINE.findall(relu_xf_part)]
    defaults = [(label, float(diff)) for label, diff, _, _ in DIFF_LINE.findall(default_part)]
    tolerance = float(DIFF_LINE.findall(output)[0][3])
    return ported, defaults, tolerance


def test_porting_gelu_matches_with_relu_xf_only():
    _require("torch", "jax", "keras")
    ported, defaults, tolerance = _differences("--variant", "gelu")
    assert len(ported) == 2
    for label, diff in ported:
        assert diff <= tolerance, f"{label}: {diff}"
    by_label = dict(defaults)
    jax_default = by_label["jax jax.nn.gelu"]
    assert jax_default > tolerance


def test_porting_leaky_relu_keras_default_differs():
    _require("torch", "jax", "keras")
    ported, defaults, tolerance = _differences("--variant", "leaky_relu")
    for label, diff in ported:
        assert diff <= tolerance, f"{label}: {diff}"
    keras_default = next(diff for label, diff in defaults if "keras.layers.LeakyReLU()" in label)
    assert keras_default > tolerance


SUMMARY_LINE = re.compile(r"^(bias|lr)\s+(\w+)\s+(\d+) -> (\d+)\s+(\d+) -> (\d+)\s+([\d.]+)$", re.M)


def test_dead_units_bias_kills_relu_and_elu_recovers():
    # The counts below are those of the digits data; without scikit-learn the
    # example trains on a synthetic set instead.
    _require("torch", "sklearn")
    output = _run("dead_units.py")
    rows = {
        (m[0], m[1]): [int(v) for v in m[2:6]] + [float(m[6])] for m in SUMMARY_LINE.findall(output)
    }
    assert len(rows) == 8, f"expected 8 summary rows in:\n{output}"
    relu_start, relu_end, _, _, relu_accuracy = rows[("bias", "relu")]
    elu_start, elu_end, _, _, elu_accuracy = rows[("bias", "elu")]
    # A -1 bias makes every first-layer unit inactive on every image at the start.
    assert relu_start == elu_start == 64
    # ReLU units get no gradient and stay dead; ELU's negative side lets them recover.
    assert relu_end == 64
    assert elu_end < relu_end
    assert elu_accuracy > relu_accuracy
