"""The array vocabulary that every spec formula is written in.

Each backend supplies one object with these methods, built from its native
ops. Formulas also use Python's arithmetic and comparison operators on arrays
and Python floats, which every supported framework implements elementwise.
Constants stay Python floats so they take the input's dtype.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["Ops", "NumpyOps", "propagate_nan", "SQRT1_2", "INV_SQRT_2PI", "SQRT_2_OVER_PI"]

SQRT1_2 = 0.70710678118654752440084436210484903928483593768847
INV_SQRT_2PI = 0.39894228040143267793994605993438186847585863116493
SQRT_2_OVER_PI = 0.79788456080286535587989211986876373695171726232986


class Ops:
    """Interface of the vocabulary. Each method is elementwise unless stated."""

    def where(self, condition: Any, a: Any, b: Any) -> Any:
        """Select ``a`` where ``condition`` is true, else ``b``; either may be a float."""
        raise NotImplementedError

    def maximum(self, a: Any, b: Any) -> Any:
        raise NotImplementedError

    def minimum(self, a: Any, b: Any) -> Any:
        raise NotImplementedError

    def abs(self, x: Any) -> Any:
        raise NotImplementedError

    def exp(self, x: Any) -> Any:
        raise NotImplementedError

    def expm1(self, x: Any) -> Any:
        raise NotImplementedError

    def log1p(self, x: Any) -> Any:
        raise NotImplementedError

    def tanh(self, x: Any) -> Any:
        raise NotImplementedError

    def erfc(self, x: Any) -> Any:
        raise NotImplementedError

    def sigmoid(self, x: Any) -> Any:
        raise NotImplementedError

    def isnan(self, x: Any) -> Any:
        raise NotImplementedError

    def isneginf(self, x: Any) -> Any:
        raise NotImplementedError

    def concatenate(self, arrays: Sequence[Any], axis: int) -> Any:
        """Join arrays along an existing axis."""
        raise NotImplementedError


def propagate_nan(ops: Ops, x: Any, d: Any) -> Any:
    """Return ``d`` with NaN wherever ``x`` is NaN.

    Branch selection turns a NaN input into the value of whichever branch its
    false comparisons pick; the contract wants a NaN gradient there instead.
    """
    return ops.where(ops.isnan(x), x, d)


def _numpy_erfc() -> Any:
    import numpy as np

    try:
        from scipy.special import erfc

        return erfc
    except ImportError:
        return np.frompyfunc(math.erfc, 1, 1)


def _numpy_sigmoid() -> Any:
    try:
        from scipy.special import expit

        return expit
    except ImportError:
        return None


class NumpyOps(Ops):
    """The vocabulary in NumPy, used by the float64 reference."""

    def __init__(self) -> None:
        import numpy as np

        self.np = np
        self._erfc = _numpy_erfc()
        self._expit = _numpy_sigmoid()

    def where(self, condition: Any, a: Any, b: Any) -> Any:
        return self.np.where(condition, a, b)

    def maximum(self, a: Any, b: Any) -> Any:
        return self.np.maximum(a, b)

    def minimum(self, a: Any, b: Any) -> Any:
        return self.np.minimum(a, b)

    def abs(self, x: Any) -> Any:
        return self.np.abs(x)

    def exp(self, x: Any) -> Any:
        return self.np.exp(x)

    def expm1(self, x: Any) -> Any:
        return self.np.expm1(x)

    def log1p(self, x: Any) -> Any:
        return self.np.log1p(x)

    def tanh(self, x: Any) -> Any:
        return self.np.tanh(x)

    def erfc(self, x: Any) -> Any:
        x = self.np.asarray(x)
        return self.np.asarray(self._erfc(x), dtype=x.dtype)

    def sigmoid(self, x: Any) -> Any:
        if self._expit is not None:
            return self._expit(x)
        np = self.np
        # exp of the negative magnitude never overflows, so neither branch forms inf / inf.
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))

    def isnan(self, x: Any) -> Any:
        return self.np.isnan(x)

    def isneginf(self, x: Any) -> Any:
        return self.np.isneginf(x)

    def concatenate(self, arrays: Sequence[Any], axis: int) -> Any:
        return self.np.concatenate(arrays, axis=axis)
