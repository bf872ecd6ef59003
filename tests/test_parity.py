"""Every backend against the float64 reference, through the parity harness.

One test per variant, parameter set, backend, run mode and dtype. A new
backend joins by defining PARITY_MODES and evaluate in its adapter module.
"""

from __future__ import annotations

import importlib

import pytest

from relu_xf import parity
from relu_xf._registry import resolve_backend
from relu_xf._variants import VARIANTS

from .conftest import selected_backends


def _cases() -> list:
    cases = []
    for backend in selected_backends():
        adapter = importlib.import_module(resolve_backend(backend).module)
        for mode in getattr(adapter, "DEFAULT_MODES", adapter.PARITY_MODES):
            for variant in VARIANTS:
                for overrides in parity.param_cases(variant):
                    for dtype in parity.DTYPES:
                        label = ",".join(f"{k}={v}" for k, v in overrides.items()) or "default"
                        case_id = f"{backend}-{mode}-{variant.name}-{label}-{dtype}"
                        cases.append(
                            pytest.param(
                                adapter, backend, mode, variant, overrides, dtype, id=case_id
                            )
                        )
    return cases


@pytest.mark.parametrize(("adapter", "backend", "mode", "variant", "overrides", "dtype"), _cases())
def test_backend_matches_reference(adapter, backend, mode, variant, overrides, dtype):
    result = parity.run_case(adapter, backend, mode, variant, overrides, dtype)
    if result.unsupported is not None:
        pytest.xfail(f"{backend} cannot run {dtype}: {result.unsupported}")
    assert result.passed, "; ".join(result.failures)
