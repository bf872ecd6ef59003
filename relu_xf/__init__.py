"""relu_xf: every ReLU-family activation, defined once, native in every framework.

``import relu_xf`` imports no framework. A backend's framework is imported the
first time that backend is used, because frameworks are slow to import, may
not be installed, and a broken install of one must not break the others.

Example:
    >>> import numpy as np
    >>> import relu_xf
    >>> leaky = relu_xf.get("leaky", backend="numpy")
    >>> leaky(np.array([-2.0, 0.0, 3.0]))
    array([-0.02,  0.  ,  3.  ])
"""

from __future__ import annotations

import functools
import sys as _sys
from collections.abc import Callable
from typing import Any

from ._registry import BACKENDS, backend_for_tensor, load_backend, resolve_backend, resolve_variant
from ._spec import Case, Param, Variant
from ._variants import VARIANTS

__all__ = [
    "Case",
    "Param",
    "Variant",
    "apply",
    "backends",
    "get",
    "layer",
    "spec",
    "variants",
]

__version__ = "0.1.0"


def variants() -> list[str]:
    """Return the canonical names of every variant, in spec order."""
    return [v.name for v in VARIANTS]


def backends() -> list[str]:
    """Return the canonical names of every backend, installed or not."""
    return [b.name for b in BACKENDS]


def spec(name: str) -> Variant:
    """Return the spec of a variant: parameters, defaults, ranges and formula."""
    return resolve_variant(name)


@functools.lru_cache(maxsize=256)
def _bind_cached(variant_name: str, backend_name: str, items: tuple[tuple[str, Any], ...]) -> Any:
    variant = resolve_variant(variant_name)
    params = variant.bind(**dict(items))
    return load_backend(backend_name).bind(variant, params)


def get(name: str, *, backend: str, **params: Any) -> Callable[..., Any]:
    """Return a native function of one tensor for a variant and backend.

    Names, aliases and parameters are validated and bound here, once, so a call
    of the returned function costs what the native ops cost.

    Args:
        name: Variant name or alias, for example ``"leaky_relu"`` or ``"leaky"``.
        backend: ``"numpy"``, ``"torch"`` (``"pytorch"``), ``"tf"``
            (``"tensorflow"``), ``"jax"`` or ``"keras"``.
        **params: The variant's parameters; ``relu_xf.spec(name).params``
            lists them with defaults and valid ranges.

    Raises:
        ValueError: Unknown variant or backend, or a parameter out of range.
        TypeError: Unknown parameter, or a parameter of the wrong type.
        ImportError: The backend's framework is not installed.
    """
    variant = resolve_variant(name)
    info = resolve_backend(backend)
    bound = variant.bind(**params)
    try:
        return _bind_cached(variant.name, info.name, tuple(sorted(bound.items())))  # type: ignore[no-any-return]
    except TypeError as error:
        if "unhashable" not in str(error):
            raise
        return load_backend(info.name).bind(variant, bound)  # type: ignore[no-any-return]


def apply(name: str, x: Any, *tensors: Any, **params: Any) -> Any:
    """Apply a variant to ``x``, with the backend chosen from the type of ``x``.

    Extra positional tensors (the PReLU weight) follow ``x``. The backend is
    found from the tensor's type alone, so no framework is imported that the
    caller has not imported already.
    """
    info = backend_for_tensor(x)
    return get(name, backend=info.name, **params)(x, *tensors)


def layer(name: str, *, backend: str, **params: Any) -> Any:
    """Return a layer for a variant: an ``nn.Module`` for torch, a Keras layer for keras.

    Raises:
        ValueError: The backend has no layer form (numpy, tf, jax).
    """
    variant = resolve_variant(name)
    info = resolve_backend(backend)
    module = load_backend(info.name)
    make_layer = getattr(module, "make_layer", None)
    if make_layer is None:
        raise ValueError(
            f"the {info.name!r} backend has no layer form; use backend='torch' for an "
            "nn.Module or backend='keras' for a Keras layer, or relu_xf.get for a function."
        )
    return make_layer(variant, **params)


if "keras" in _sys.modules:
    # Keras is loaded already, so this imports no new framework. It registers the
    # "relu_xf>NAME" activation strings and the serializable layers with Keras.
    from . import keras as _keras  # noqa: F401
