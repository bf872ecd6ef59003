"""Public API: names, aliases, parameter validation and errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import relu_xf
from relu_xf import _registry


def test_variants_lists_every_canonical_name():
    names = relu_xf.variants()
    assert names[0] == "relu"
    assert "leaky_relu" in names
    assert "hard_swish" in names
    assert len(names) == len(set(names)) == 17


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("leaky", "leaky_relu"),
        ("lrelu", "leaky_relu"),
        ("swish", "silu"),
        ("hard_silu", "hard_swish"),
        ("LeakyReLU", "leaky_relu"),
        ("Leaky-ReLU", "leaky_relu"),
        ("hard swish", "hard_swish"),
        ("GELU", "gelu"),
    ],
)
def test_spec_resolves_aliases_and_spellings(alias, canonical):
    assert relu_xf.spec(alias).name == canonical


def test_unknown_variant_lists_closest_names():
    with pytest.raises(ValueError, match=r"unknown variant 'leeky'.*Closest names: 'leaky'"):
        relu_xf.get("leeky", backend="numpy")


def test_unknown_backend_lists_known_backends():
    with pytest.raises(ValueError, match=r"unknown backend 'mxnet'.*numpy, torch \(or pytorch\)"):
        relu_xf.get("relu", backend="mxnet")


@pytest.mark.parametrize("alias", ["pytorch", "tensorflow", "TF", "NumPy"])
def test_backend_aliases_resolve(alias):
    expected = {"pytorch": "torch", "tensorflow": "tf", "TF": "tf", "NumPy": "numpy"}[alias]
    assert _registry.resolve_backend(alias).name == expected


def test_missing_framework_names_pip_extra(monkeypatch):
    monkeypatch.setattr(_registry.importlib.util, "find_spec", lambda name: None)
    monkeypatch.delitem(sys.modules, "relu_xf.jax", raising=False)
    with pytest.raises(ImportError, match=r"pip install 'relu_xf\[jax\]'"):
        _registry.load_backend("jax")


@pytest.mark.parametrize(
    ("name", "params", "pattern"),
    [
        (
            "celu",
            {"alpha": 0.0},
            r"celu: parameter alpha=0.0 is out of range; alpha must be a finite number > 0",
        ),
        ("softplus", {"beta": 0.0}, r"softplus: parameter beta=0.0 is out of range"),
        ("leaky", {"negative_slope": float("nan")}, r"negative_slope=nan is not finite"),
        ("leaky", {"negative_slope": float("inf")}, r"negative_slope=inf is not finite"),
        (
            "gelu",
            {"approximate": "erf"},
            r"approximate='erf' is not valid; approximate must be one of 'none', 'tanh'",
        ),
        ("relu", {"max_value": 0.0}, r"max_value=0.0 must be greater than threshold=0.0"),
        (
            "relu",
            {"max_value": 1.0, "threshold": 2.0},
            r"max_value=1.0 must be greater than threshold=2.0",
        ),
        ("rrelu", {"lower": 0.5, "upper": 0.1}, r"lower=0.5 must not exceed upper=0.1"),
        ("rrelu", {"lower": -0.1}, r"lower=-0.1 is out of range"),
        ("elu", {"alpha": -1.0}, r"alpha=-1.0 is out of range; alpha must be a finite number >= 0"),
    ],
)
def test_invalid_parameter_raises_value_error(name, params, pattern):
    with pytest.raises(ValueError, match=pattern):
        relu_xf.get(name, backend="numpy", **params)


@pytest.mark.parametrize(
    ("name", "params", "pattern"),
    [
        (
            "leaky",
            {"slope": 0.1},
            r"unexpected parameter slope=0.1; leaky_relu accepts negative_slope",
        ),
        ("leaky", {"negative_slope": "0.1"}, r"negative_slope='0.1' is not a real number"),
        ("leaky", {"negative_slope": True}, r"negative_slope=True is not a real number"),
        ("crelu", {"axis": 1.5}, r"axis=1.5 is not an integer"),
        ("rrelu", {"training": 1}, r"training=1 is not a bool"),
    ],
)
def test_wrong_parameter_type_raises_type_error(name, params, pattern):
    with pytest.raises(TypeError, match=pattern):
        relu_xf.get(name, backend="numpy", **params)


@pytest.mark.parametrize("value", [0.2, np.float64(0.2), np.float32(0.2), np.array(0.2)])
def test_parameter_kinds_keep_output_dtype(value):
    x = np.array([-1.0, 2.0], dtype=np.float16)
    y = relu_xf.get("leaky", backend="numpy", negative_slope=value)(x)
    assert y.dtype == np.float16
    assert y[0] == np.float16(-0.2)


def test_get_returns_cached_function():
    first = relu_xf.get("leaky", backend="numpy", negative_slope=0.2)
    second = relu_xf.get("leaky_relu", backend="numpy", negative_slope=np.float64(0.2))
    assert first is second


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_, np.complex64])
def test_non_float_input_raises_type_error(dtype):
    with pytest.raises(TypeError, match=r"leaky_relu \(numpy\): input dtype .* is not supported"):
        relu_xf.get("leaky", backend="numpy")(np.zeros(3, dtype=dtype))


def test_apply_picks_numpy_backend():
    y = relu_xf.apply("relu6", np.array([-1.0, 3.0, 9.0]))
    np.testing.assert_array_equal(y, [0.0, 3.0, 6.0])


def test_apply_rejects_unknown_input_type():
    with pytest.raises(TypeError, match="cannot pick a backend for an input of type builtins.list"):
        relu_xf.apply("relu", [1.0, -1.0])


def test_layer_rejects_backend_without_layers():
    with pytest.raises(ValueError, match="the 'numpy' backend has no layer form"):
        relu_xf.layer("relu", backend="numpy")


def test_import_loads_no_framework():
    code = (
        "import sys, numpy as np, relu_xf\n"
        "relu_xf.get('gelu', backend='numpy')(np.ones(3))\n"
        "relu_xf.apply('leaky', np.ones(3))\n"
        "relu_xf.spec('prelu').doc()\n"
        "import relu_xf.parity, relu_xf.cli\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'tensorflow', 'jax', 'jaxlib', 'keras', 'flax'))\n"
        "print(','.join(loaded))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == ""


def test_spec_docstring_has_formula_and_defaults():
    text = relu_xf.spec("leaky").doc()
    assert "negative_slope * x" in text
    assert "if x <= 0" in text
    assert "Default: ``0.01``" in text
