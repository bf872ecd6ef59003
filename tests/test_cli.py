"""The relu-xf command: list, parity tables and exit statuses."""

from __future__ import annotations

import subprocess
import sys
import types

import numpy as np

from relu_xf import cli, parity


def test_list_prints_variants_aliases_and_defaults(capsys):
    assert cli.main(["list"]) == 0
    output = capsys.readouterr().out
    assert "leaky_relu (aliases: leaky, lrelu)" in output
    assert "negative_slope=0.01" in output
    assert "approximate='none'" in output


def test_parity_numpy_passes_and_prints_table(capsys):
    status = cli.main(["parity", "--backend", "numpy", "--variant", "leaky", "--dtype", "float32"])
    output = capsys.readouterr().out
    assert status == 0
    assert "leaky_relu(negative_slope=0.2)" in output
    assert "3 passed, 0 failed, 0 unsupported" in output


def _broken_adapter() -> types.SimpleNamespace:
    """Return an adapter whose relu is wrong at x = 2.0 only."""
    from relu_xf.numpy import evaluate

    def broken(mode, variant, params, x, dtype, weight=None):
        y, g = evaluate(mode, variant, params, x, dtype, weight)
        y = np.where(x == 2.0, 2.5, y)
        return y, g

    return types.SimpleNamespace(PARITY_MODES=("eager",), evaluate=broken)


def test_parity_disagreement_exits_1_and_names_input(monkeypatch, capsys):
    from relu_xf._registry import resolve_backend

    monkeypatch.setattr(
        parity, "_adapters", lambda names: [(resolve_backend("numpy"), _broken_adapter())]
    )
    status = cli.main(["parity", "--backend", "numpy", "--variant", "relu", "--dtype", "float32"])
    output = capsys.readouterr().out
    assert status == 1
    assert "Disagreements with the reference:" in output
    assert "relu on numpy float32: value at x=np.float64(2.0): got np.float64(2.5)" in output


def test_unsupported_dtype_is_reported_with_reason(monkeypatch, capsys):
    from relu_xf._registry import resolve_backend

    def reject(mode, variant, params, x, dtype, weight=None):
        raise parity.Unsupported("no bfloat16 kernel on this CPU")

    adapter = types.SimpleNamespace(PARITY_MODES=("eager",), evaluate=reject)
    monkeypatch.setattr(parity, "_adapters", lambda names: [(resolve_backend("numpy"), adapter)])
    status = cli.main(["parity", "--backend", "numpy", "--variant", "relu6", "--dtype", "bfloat16"])
    output = capsys.readouterr().out
    assert status == 0
    assert "numpy bfloat16: no bfloat16 kernel on this CPU" in output
    assert "0 passed, 0 failed, 1 unsupported" in output


def test_unknown_backend_exits_2_with_message():
    run = subprocess.run(
        [sys.executable, "-m", "relu_xf", "parity", "--backend", "mxnet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 2
    assert "relu-xf: error: unknown backend 'mxnet'" in run.stderr
