"""Every pair of installed backends agrees, eagerly and compiled, in values and gradients.

Each backend is checked against the float64 reference in tests/test_parity.py.
This test compares backends with each other directly, on the same inputs, so a
port between any two differs by at most the sum of their error bounds.
Keras runs in its own processes (tests/test_keras.py) and is left out here.
"""

from __future__ import annotations

import functools
import importlib
import itertools

import numpy as np
import pytest

from relu_xf import parity
from relu_xf._registry import resolve_backend
from relu_xf._variants import PRELU_INIT, VARIANTS

from .conftest import selected_backends

DTYPES = ("float32", "float64")


def _runs() -> list[tuple[str, str]]:
    runs = []
    for backend in selected_backends():
        adapter = importlib.import_module(resolve_backend(backend).module)
        for mode in getattr(adapter, "DEFAULT_MODES", adapter.PARITY_MODES):
            runs.append((backend, mode))
    return runs


RUNS = _runs()


@functools.cache
def _evaluate(backend: str, mode: str, name: str, items: tuple, dtype: str):
    variant = next(v for v in VARIANTS if v.name == name)
    params = variant.bind(**dict(items))
    adapter = importlib.import_module(resolve_backend(backend).module)
    x = parity.input_grid(variant, params, dtype)
    weight = np.array([PRELU_INIT]) if variant.learnable else None
    y, g = adapter.evaluate(mode, variant, params, x, dtype, weight)
    return x, np.asarray(y, dtype=np.float64), np.asarray(g, dtype=np.float64)


def _cases() -> list:
    cases = []
    for variant in VARIANTS:
        for overrides in parity.param_cases(variant):
            for dtype in DTYPES:
                label = ",".join(f"{k}={v}" for k, v in overrides.items()) or "default"
                cases.append(
                    pytest.param(variant, overrides, dtype, id=f"{variant.name}-{label}-{dtype}")
                )
    return cases


@pytest.mark.skipif(len(RUNS) < 2, reason="needs two installed backends or run modes")
@pytest.mark.parametrize(("variant", "overrides", "dtype"), _cases())
def test_backend_pairs_agree(variant, overrides, dtype):
    value_bound, gradient_bound = parity.bounds(variant, dtype)
    items = tuple(sorted(overrides.items()))
    failures = []
    for first, second in itertools.combinations(RUNS, 2):
        x, y1, g1 = _evaluate(*first, variant.name, items, dtype)
        _, y2, g2 = _evaluate(*second, variant.name, items, dtype)
        # A subnormal input may be read as zero by one backend and not the other
        # (the contract allows both), so the pair is compared on the other inputs.
        keep = ~((x != 0) & (np.abs(x) < np.finfo(dtype).tiny))
        x_values = np.concatenate([x, x]) if variant.name == "crelu" else x
        keep_values = np.concatenate([keep, keep]) if variant.name == "crelu" else keep
        value_scale = np.maximum(np.abs(y1), np.abs(y2))
        gradient_scale = np.maximum(np.maximum(np.abs(g1), np.abs(g2)), variant.gradient_floor)
        if variant.error_scale == "input":
            value_scale = np.maximum(value_scale, np.abs(x_values))
            gradient_scale = np.maximum(gradient_scale, 1.0)
        value_error = parity.ulp_error(y1, y2, value_scale, dtype)[keep_values]
        gradient_error = parity.ulp_error(g1, g2, gradient_scale, dtype)[keep]
        if value_error.max() > 2 * value_bound:
            failures.append(f"{first} vs {second}: values differ by {value_error.max():.3g} ULPs")
        if gradient_error.max() > 2 * gradient_bound:
            failures.append(
                f"{first} vs {second}: gradients differ by {gradient_error.max():.3g} ULPs"
            )
    assert not failures, "; ".join(failures)
