"""Keras 3 layers: one class per variant, generated from the spec.

Each layer validates its parameters in the constructor through the spec,
returns them from ``get_config`` and is registered with Keras under
``relu_xf>ClassName``, so a saved model reloads with ``safe_mode`` on once
``relu_xf.keras`` is imported. PReLU, RReLU and CReLU are written out because
they hold a weight, follow the ``training`` flag or change the output shape.
"""

from __future__ import annotations

from typing import Any

import keras

from ._adapter import normalize_axis
from ._keras_core import bind, prelu_apply
from ._registry import resolve_variant
from ._spec import Variant
from ._variants import PRELU, PRELU_INIT, RRELU, VARIANTS

__all__ = ["LAYER_NAMES", "LAYERS", "make_layer"]

# Class name of each variant's layer, in the spelling Keras and PyTorch use.
LAYER_NAMES = {
    "relu": "ReLU",
    "leaky_relu": "LeakyReLU",
    "prelu": "PReLU",
    "rrelu": "RReLU",
    "elu": "ELU",
    "selu": "SELU",
    "celu": "CELU",
    "crelu": "CReLU",
    "relu6": "ReLU6",
    "thresholded_relu": "ThresholdedReLU",
    "squared_relu": "SquaredReLU",
    "gelu": "GELU",
    "silu": "SiLU",
    "mish": "Mish",
    "softplus": "Softplus",
    "hard_sigmoid": "HardSigmoid",
    "hard_swish": "HardSwish",
}

_PACKAGE = "relu_xf"


class _ActivationLayer(keras.layers.Layer):
    """Base of the generated layers: a stateless activation with spec parameters."""

    variant: Variant
    # Spec parameters that the layer does not take from its constructor.
    excluded: tuple[str, ...] = ()

    def __init__(self, **kwargs: Any) -> None:
        names = [p.name for p in self.variant.params if p.name not in self.excluded]
        params = {name: kwargs.pop(name) for name in names if name in kwargs}
        for name in self.excluded:
            if name in kwargs:
                raise TypeError(
                    f"{type(self).__name__}: {name}={kwargs[name]!r} is not a constructor "
                    f"argument of the layer; the layer takes {name} from its call."
                )
        super().__init__(**kwargs)
        self._params = self.variant.bind(**params)
        self._config_params = {name: self._params[name] for name in names}
        self._function = bind(self.variant, self._params)
        self.supports_masking = True

    def call(self, inputs: Any) -> Any:
        return self._function(inputs)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(self._config_params)
        return config


class CReLU(_ActivationLayer):
    variant = resolve_variant("crelu")

    def compute_output_shape(self, input_shape: Any) -> Any:
        shape = list(input_shape)
        axis = normalize_axis(self.variant, self._params.axis, len(shape))
        if shape[axis] is not None:
            shape[axis] *= 2
        return tuple(shape)


class RReLU(_ActivationLayer):
    variant = RRELU
    excluded = ("training",)

    def __init__(self, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._train_function = bind(
            self.variant, self.variant.bind(**self._config_params, training=True)
        )

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if training:
            return self._train_function(inputs, seed=self.seed_generator)
        return self._function(inputs)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["seed"] = self.seed
        return config


class PReLU(keras.layers.Layer):
    """Parametric ReLU with a learned slope: ``x`` if ``x > 0`` else ``alpha * x``.

    The slope starts at 0.25, the value of PyTorch's ``nn.PReLU`` and of He et
    al. (2015); Keras' own ``keras.layers.PReLU`` starts at 0.

    Args:
        alpha_initializer: Initializer of the slope. Default: constant 0.25.
        alpha_regularizer: Optional regularizer of the slope.
        alpha_constraint: Optional constraint of the slope.
        shared_axes: Axes (counting the batch axis as 0) along which one slope
            is shared, as in Keras: ``[1, 2]`` gives one slope per channel of
            a channels-last image batch. Without it, and without
            ``channel_axis``, every feature gets its own slope.
        channel_axis: Alternative to ``shared_axes`` in the PyTorch style: one
            slope per entry along this axis, shared across all other axes.

    Raises:
        ValueError: ``shared_axes`` and ``channel_axis`` are both given, or
            an axis is out of range for the input.
        TypeError: ``channel_axis`` is not an integer.
    """

    variant = PRELU

    def __init__(
        self,
        alpha_initializer: Any = None,
        alpha_regularizer: Any = None,
        alpha_constraint: Any = None,
        shared_axes: Any = None,
        channel_axis: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if shared_axes is not None and channel_axis is not None:
            raise ValueError(
                f"PReLU: shared_axes={shared_axes!r} and channel_axis={channel_axis!r} were both "
                "given; pass shared_axes for Keras-style slopes or channel_axis for one slope "
                "per channel, not both."
            )
        if channel_axis is not None:
            params = self.variant.bind(channel_axis=channel_axis)
        else:
            params = self.variant.bind()
        if alpha_initializer is None:
            alpha_initializer = keras.initializers.Constant(PRELU_INIT)
        self.alpha_initializer = keras.initializers.get(alpha_initializer)
        self.alpha_regularizer = keras.regularizers.get(alpha_regularizer)
        self.alpha_constraint = keras.constraints.get(alpha_constraint)
        if shared_axes is None:
            self.shared_axes = None
        elif isinstance(shared_axes, (list, tuple)):
            self.shared_axes = [int(a) for a in shared_axes]
        else:
            self.shared_axes = [int(shared_axes)]
        self.channel_axis = channel_axis
        self._apply = prelu_apply(self.variant, params)
        self.supports_masking = True

    def _slope_shape(self, input_shape: Any) -> list[int]:
        ndim = len(input_shape)
        if self.channel_axis is not None:
            axis = normalize_axis(self.variant, self.channel_axis, ndim, "channel_axis")
            if axis == 0:
                raise ValueError(
                    "PReLU: channel_axis=0 is the batch axis; pick the channel axis, for "
                    "example -1 for channels-last inputs."
                )
            shape = [1] * (ndim - 1)
            shape[axis - 1] = input_shape[axis]
            return shape
        shape = list(input_shape[1:])
        for axis in self.shared_axes or ():
            if not 1 <= axis < ndim:
                raise ValueError(
                    f"PReLU: shared axis {axis} is out of range for an input with {ndim} "
                    f"dimensions; shared_axes must be in [1, {ndim - 1}] (0 is the batch axis)."
                )
            shape[axis - 1] = 1
        missing = [i + 1 for i, n in enumerate(shape) if n is None]
        if missing:
            raise ValueError(
                f"PReLU: input shape {tuple(input_shape)} has no size on axes {missing}; give "
                "those axes a size or list them in shared_axes."
            )
        return shape

    def build(self, input_shape: Any) -> None:
        self.alpha = self.add_weight(
            shape=self._slope_shape(input_shape),
            name="alpha",
            initializer=self.alpha_initializer,
            regularizer=self.alpha_regularizer,
            constraint=self.alpha_constraint,
        )

    def call(self, inputs: Any) -> Any:
        return self._apply(inputs, self.alpha)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "alpha_initializer": keras.initializers.serialize(self.alpha_initializer),
                "alpha_regularizer": keras.regularizers.serialize(self.alpha_regularizer),
                "alpha_constraint": keras.constraints.serialize(self.alpha_constraint),
                "shared_axes": self.shared_axes,
                "channel_axis": self.channel_axis,
            }
        )
        return config


def _layer_doc(variant: Variant) -> str:
    return f"Keras layer of {variant.name}.\n\n{variant.doc()}"


def _make_layer_classes() -> dict[str, type]:
    written: dict[str, type] = {"crelu": CReLU, "rrelu": RReLU, "prelu": PReLU}
    classes: dict[str, type] = {}
    for variant in VARIANTS:
        name = LAYER_NAMES[variant.name]
        cls = written.get(variant.name) or type(name, (_ActivationLayer,), {"variant": variant})
        cls.__module__ = "relu_xf.keras"
        cls.__qualname__ = name
        doc = (cls.__doc__ or "") if cls is PReLU else _layer_doc(variant)
        if variant.name == "rrelu":
            doc += (
                "\n\nThe layer draws slopes when called with ``training=True`` and uses "
                "(lower + upper) / 2 otherwise. ``seed`` seeds its "
                "``keras.random.SeedGenerator``."
            )
        if variant.name == "crelu":
            doc += "\n\nThe output has twice the input's size along ``axis``."
        cls.__doc__ = doc
        classes[variant.name] = keras.saving.register_keras_serializable(package=_PACKAGE)(cls)
    return classes


LAYERS = _make_layer_classes()


def make_layer(variant: Any, **params: Any) -> keras.layers.Layer:
    """Return a new Keras layer for a variant; ``params`` are the layer's constructor arguments.

    Raises:
        ValueError: Unknown variant, or a parameter out of range.
        TypeError: Unknown parameter, or a parameter of the wrong type.
    """
    variant = resolve_variant(variant)
    return LAYERS[variant.name](**params)
