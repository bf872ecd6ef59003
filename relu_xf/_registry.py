"""Name resolution for variants and backends, and lazy backend loading.

No framework is imported here. A backend module is imported the first time a
caller asks for that backend, and tensor types are recognized by the module
that defines them, so ``apply`` never imports a framework the caller has not.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import re
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ._spec import Variant
from ._variants import VARIANTS

__all__ = [
    "BACKENDS",
    "BackendInfo",
    "backend_for_tensor",
    "framework_of",
    "installed_backends",
    "load_backend",
    "resolve_backend",
    "resolve_variant",
]


@dataclass(frozen=True)
class BackendInfo:
    """A backend: its canonical name, aliases, adapter module and pip extra."""

    name: str
    aliases: tuple[str, ...]
    module: str
    framework: str
    framework_label: str
    extra: str
    tensor_modules: tuple[str, ...]


BACKENDS: tuple[BackendInfo, ...] = (
    BackendInfo("numpy", (), "relu_xf.numpy", "numpy", "NumPy", "", ("numpy",)),
    BackendInfo("torch", ("pytorch",), "relu_xf.torch", "torch", "PyTorch", "torch", ("torch",)),
    BackendInfo(
        "tf", ("tensorflow",), "relu_xf.tf", "tensorflow", "TensorFlow", "tf", ("tensorflow",)
    ),
    BackendInfo("jax", (), "relu_xf.jax", "jax", "JAX", "jax", ("jax", "jaxlib")),
    BackendInfo("keras", (), "relu_xf.keras", "keras", "Keras 3", "keras", ("keras",)),
)

_BACKEND_BY_NAME = {name: b for b in BACKENDS for name in (b.name, *b.aliases)}
_VARIANT_BY_NAME = {v.name: v for v in VARIANTS}
_VARIANT_BY_ALIAS = {alias: v for v in VARIANTS for alias in (v.name, *v.aliases)}


def _fold(name: str) -> str:
    """Fold case, spaces, hyphens and underscores so 'Leaky-ReLU' matches 'leaky_relu'."""
    return re.sub(r"[\s_\-]+", "", name.lower())


_VARIANT_BY_FOLDED: dict[str, list[Variant]] = {}
for _variant in VARIANTS:
    for _alias in (_variant.name, *_variant.aliases):
        _matches = _VARIANT_BY_FOLDED.setdefault(_fold(_alias), [])
        if _variant not in _matches:
            _matches.append(_variant)


def _closest(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name.lower(), candidates, n=3, cutoff=0.5)
    if not close:
        close = difflib.get_close_matches(_fold(name), candidates, n=3, cutoff=0.5)
    return ", ".join(repr(c) for c in close)


def resolve_variant(name: Any) -> Variant:
    """Return the variant called ``name``: a canonical name or alias, in any case.

    Spaces, hyphens and underscores are ignored when the result is unambiguous.
    """
    if isinstance(name, Variant):
        return name
    if not isinstance(name, str):
        raise TypeError(f"variant name must be a str, got {type(name).__name__} {name!r}.")
    found = _VARIANT_BY_ALIAS.get(name)
    if found is not None:
        return found
    matches = _VARIANT_BY_FOLDED.get(_fold(name), [])
    if len(matches) == 1:
        return matches[0]
    candidates = sorted(_VARIANT_BY_ALIAS)
    close = _closest(name, candidates)
    hint = f" Closest names: {close}." if close else ""
    raise ValueError(
        f"unknown variant {name!r}.{hint} "
        f"relu_xf.variants() lists every name; known names are {', '.join(candidates)}."
    )


def resolve_backend(name: Any) -> BackendInfo:
    """Return the backend called ``name`` or one of its aliases, in any case."""
    if isinstance(name, BackendInfo):
        return name
    if not isinstance(name, str):
        raise TypeError(f"backend name must be a str, got {type(name).__name__} {name!r}.")
    found = _BACKEND_BY_NAME.get(name.lower().strip())
    if found is None:
        known = ", ".join(
            b.name + (f" (or {', '.join(b.aliases)})" if b.aliases else "") for b in BACKENDS
        )
        raise ValueError(f"unknown backend {name!r}. Known backends: {known}.")
    return found


def load_backend(name: Any) -> ModuleType:
    """Import and return the adapter module of a backend.

    Raises:
        ImportError: The backend's framework is not installed; the message
            names the pip extra that installs it.
    """
    info = resolve_backend(name)
    module = sys.modules.get(info.module)
    # While another thread runs the module's import, sys.modules already contains it
    # half initialized; import_module below waits for that import to finish.
    if module is not None and not getattr(module.__spec__, "_initializing", False):
        return module
    if importlib.util.find_spec(info.framework) is None:
        install = (
            f"pip install 'relu_xf[{info.extra}]'"
            if info.extra
            else f"pip install {info.framework}"
        )
        raise ImportError(
            f"the {info.name!r} backend needs {info.framework_label} ({info.framework}), "
            f"which is not installed. Install it with: {install}"
        )
    return importlib.import_module(info.module)


def installed_backends() -> list[BackendInfo]:
    """Return the backends whose framework can be imported, without importing it."""
    return [b for b in BACKENDS if importlib.util.find_spec(b.framework) is not None]


def framework_of(x: Any) -> BackendInfo | None:
    """Return the backend whose framework defines the type of ``x``, or None.

    Checks types by module name only, so it imports nothing. A NumPy array
    maps to the numpy backend, a Python scalar or list to None.
    """
    for cls in type(x).__mro__:
        top = (cls.__module__ or "").split(".", 1)[0]
        for info in BACKENDS:
            if top in info.tensor_modules:
                return info
    return None


def backend_for_tensor(x: Any) -> BackendInfo:
    """Return the backend of a tensor, judged by the module of its type.

    Raises:
        TypeError: The type of ``x`` belongs to no known framework.
    """
    info = framework_of(x)
    if info is not None:
        return info
    raise TypeError(
        f"cannot pick a backend for an input of type {type(x).__module__}.{type(x).__qualname__}; "
        "pass a NumPy array or a torch, TensorFlow, JAX or Keras tensor, "
        "or call relu_xf.get(name, backend=...) and apply the returned function."
    )
