"""Shared pytest configuration: which backends the generic parity tests run on."""

from __future__ import annotations

import os

import pytest

from relu_xf._registry import BACKENDS, installed_backends

# Keras runs in its own processes, one per Keras backend (tests/test_keras.py),
# because the Keras backend is fixed at import.
HARNESS_BACKENDS = [b.name for b in BACKENDS if b.name != "keras"]


def selected_backends() -> list[str]:
    """Return the backends to test: RELU_XF_TEST_BACKENDS (comma-separated) or all installed."""
    requested = os.environ.get("RELU_XF_TEST_BACKENDS")
    installed = {b.name for b in installed_backends()}
    if not requested:
        return [name for name in HARNESS_BACKENDS if name in installed]
    names = [n.strip() for n in requested.split(",") if n.strip()]
    for name in names:
        if name not in HARNESS_BACKENDS:
            raise pytest.UsageError(
                f"RELU_XF_TEST_BACKENDS names unknown backend {name!r}; "
                f"known: {', '.join(HARNESS_BACKENDS)}."
            )
        if name not in installed:
            raise pytest.UsageError(
                f"RELU_XF_TEST_BACKENDS names {name!r}, whose framework is not installed."
            )
    return names
