"""Keras 3 backend: activation functions, layers and activation strings on any Keras backend.

Everything runs on the backend Keras was started with (``KERAS_BACKEND`` set
to ``tensorflow``, ``jax`` or ``torch``) and takes its gradient from the
spec's derivative through ``keras.ops.custom_gradient``.

* ``relu_xf.keras.leaky_relu(x, negative_slope=0.2)`` and the other
  per-variant functions; ``relu_xf.get(name, backend="keras", **params)``
  returns an :class:`ActivationFunction` with the parameters bound.
* ``relu_xf.keras.LeakyReLU(negative_slope=0.2)`` and one layer class per
  variant (``LAYERS`` maps variant names to them); ``relu_xf.layer(name,
  backend="keras")`` calls :func:`make_layer`.
* Activation strings ``"relu_xf>NAME"`` for every variant name and alias,
  for example ``keras.layers.Dense(64, activation="relu_xf>leaky_relu")``.
  Keras' own names never contain ``>``, so they cannot collide, and the
  string equals the function's registered serializable name.

Functions, :class:`ActivationFunction` objects and layers are registered with
``keras.saving.register_keras_serializable(package="relu_xf")``, so a model
saved to ``.keras`` loads with ``safe_mode`` on in any process that has
imported ``relu_xf.keras`` first.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from . import _keras_core
from ._adapter import make_functions
from ._keras_core import OPS, KerasOps, dtype_name
from ._keras_layers import LAYER_NAMES, LAYERS, make_layer
from ._registry import resolve_variant
from ._spec import BoundParams, Variant
from ._variants import VARIANTS

__all__ = [
    "ACTIVATION_PREFIX",
    "LAYERS",
    "OPS",
    "ActivationFunction",
    "KerasOps",
    "activation_name",
    "bind",
    "dtype_name",
    "make_layer",
    "register_activation_names",
    *LAYER_NAMES.values(),
    *(v.name for v in VARIANTS),
]

ACTIVATION_PREFIX = "relu_xf>"


@keras.saving.register_keras_serializable(package="relu_xf")
class ActivationFunction:
    """A variant's Keras function with its parameters bound, serializable by Keras.

    ``ActivationFunction("leaky_relu", negative_slope=0.2)`` validates the
    parameters once; calling it applies the activation. ``get_config``
    returns the variant name and parameters, so a model that uses it as an
    activation saves and reloads with its parameters.

    Raises:
        ValueError: Unknown variant, or a parameter out of range.
        TypeError: Unknown parameter, or a parameter of the wrong type.
    """

    def __init__(self, name: str, **params: Any) -> None:
        variant = resolve_variant(name)
        self._setup(variant, variant.bind(**params))

    @classmethod
    def from_bound(cls, variant: Variant, p: BoundParams) -> ActivationFunction:
        """Return an instance for already validated parameters."""
        instance = cls.__new__(cls)
        instance._setup(variant, p)
        return instance

    def _setup(self, variant: Variant, p: BoundParams) -> None:
        self.variant = variant
        self.params = p
        self._function = _keras_core.bind(variant, p)
        self.__name__ = variant.name
        self.__doc__ = variant.doc()

    def __call__(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        return self._function(x, *args, **kwargs)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.variant.name, **dict(self.params)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ActivationFunction:
        return cls(**config)

    def __repr__(self) -> str:
        inner = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"ActivationFunction({self.variant.name!r}{inner})"


def bind(variant: Variant, p: BoundParams) -> ActivationFunction:
    """Return the Keras function of ``x`` for one variant and validated parameters.

    See :class:`ActivationFunction`. The PReLU function takes ``(x, weight)``
    and training-mode RReLU takes ``(x, seed=None)``.
    """
    return ActivationFunction.from_bound(variant, p)


_FUNCTIONS = make_functions(bind, "keras")
for _name, _function in _FUNCTIONS.items():
    keras.saving.register_keras_serializable(package="relu_xf", name=_name)(_function)
globals().update(_FUNCTIONS)
globals().update({cls.__name__: cls for cls in LAYERS.values()})


def activation_name(name: str) -> str:
    """Return the Keras activation string of a variant, for example ``'relu_xf>leaky_relu'``."""
    return ACTIVATION_PREFIX + resolve_variant(name).name


def register_activation_names(table: dict[str, Any] | None = None) -> None:
    """Make ``"relu_xf>NAME"`` resolve in ``keras.activations.get`` for every name and alias.

    Keras 3 resolves an activation string only in the table of its built-in
    activations, ``keras.src.activations.ALL_OBJECTS_DICT`` (checked on Keras
    3.15.1), and not among registered serializable objects. This function
    adds entries to that private table and nothing else.

    Raises:
        RuntimeError: The table is missing or lookups do not reach it, which
            means the installed Keras changed this internal.
    """
    version = getattr(keras, "__version__", "unknown")
    if table is None:
        try:
            from keras.src import activations as keras_activations

            table = keras_activations.ALL_OBJECTS_DICT
        except (ImportError, AttributeError) as error:
            raise RuntimeError(
                f"relu_xf cannot register activation strings with Keras {version}: "
                f"keras.src.activations.ALL_OBJECTS_DICT is not available ({error}). "
                "Pass the functions themselves, for example activation=relu_xf.keras.leaky_relu, "
                "or use the layers."
            ) from error
    for variant in VARIANTS:
        for alias in (variant.name, *variant.aliases):
            table[ACTIVATION_PREFIX + alias] = _FUNCTIONS[variant.name]
    probe = activation_name("relu")
    if keras.activations.get(probe) is not _FUNCTIONS["relu"]:
        raise RuntimeError(
            f"relu_xf cannot register activation strings with Keras {version}: "
            f"keras.activations.get({probe!r}) does not read the table relu_xf wrote to. "
            "Pass the functions themselves, for example activation=relu_xf.keras.leaky_relu, "
            "or use the layers."
        )


try:
    register_activation_names()
except RuntimeError as _error:
    warnings.warn(str(_error), RuntimeWarning, stacklevel=2)


# Parity harness ---------------------------------------------------------------

PARITY_MODES = ("eager",)


def _to_keras(values: np.ndarray, dtype: str) -> Any:
    # x is exact in dtype, so going through float32 loses nothing for 16-bit dtypes.
    if dtype == "float64":
        return keras.ops.convert_to_tensor(values, dtype="float64")
    tensor = keras.ops.convert_to_tensor(values.astype(np.float32), dtype="float32")
    return tensor if dtype == "float32" else keras.ops.cast(tensor, dtype)


def _to_numpy(tensor: Any) -> np.ndarray:
    wide = "float64" if dtype_name(tensor) == "float64" else "float32"
    return np.asarray(keras.ops.convert_to_numpy(keras.ops.cast(tensor, wide)), dtype=np.float64)


def _value_and_gradient(function: Callable[[Any], Any], x: Any) -> tuple[Any, Any]:
    """Return ``function(x)`` and its vector-Jacobian product with ones, on the current backend."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            y = function(x)
        return y, tape.gradient(y, x, output_gradients=tf.ones_like(y))
    if backend == "jax":
        import jax

        y, pullback = jax.vjp(function, x)
        (g,) = pullback(jax.numpy.ones_like(y))
        return y, g
    if backend == "torch":
        import torch

        x = x.detach().requires_grad_(True)
        y = function(x)
        (g,) = torch.autograd.grad(y, x, grad_outputs=torch.ones_like(y))
        return y.detach(), g
    from .parity import Unsupported

    raise Unsupported(f"the Keras backend {backend!r} has no gradient support in relu_xf")


def evaluate(
    mode: str, variant: Variant, p: BoundParams, x: np.ndarray, dtype: str, weight: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Run the Keras backend for the parity harness; see ``relu_xf.parity``.

    The gradient comes from the current backend's autodiff: ``tf.GradientTape``,
    ``jax.vjp`` or ``torch.autograd.grad``.

    Raises:
        relu_xf.parity.Unsupported: float64 under the JAX backend without
            ``JAX_ENABLE_X64=1``, because JAX truncates float64 to float32
            then. Turning 64-bit mode on for one call would change how every
            Keras op already traced in the process treats float64.
    """
    if keras.backend.backend() == "jax" and dtype == "float64":
        import jax

        if not jax.config.read("jax_enable_x64"):
            from .parity import Unsupported

            raise Unsupported(
                "JAX truncates float64 to float32 unless 64-bit mode is on; "
                "set JAX_ENABLE_X64=1 before importing jax"
            )
    return _evaluate(variant, p, x, dtype, weight)


def _evaluate(
    variant: Variant, p: BoundParams, x: np.ndarray, dtype: str, weight: Any
) -> tuple[np.ndarray, np.ndarray]:
    function = bind(variant, p)
    xs = _to_keras(x, dtype)
    if weight is not None:
        w = _to_keras(np.asarray(weight, dtype=np.float64), dtype)

        def apply(t: Any) -> Any:
            return function(t, w)

    else:

        def apply(t: Any) -> Any:
            return function(t)

    try:
        y, g = _value_and_gradient(apply, xs)
    except Exception as error:  # the framework's own dtype error becomes the reason
        if dtype in ("float16", "bfloat16") and "not implemented" in str(error).lower():
            from .parity import Unsupported

            raise Unsupported(f"{type(error).__name__}: {error}") from error
        raise
    return _to_numpy(y), _to_numpy(g)
