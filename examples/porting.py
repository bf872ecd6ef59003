"""Port a trained PyTorch MLP to Keras and JAX, with and without relu_xf.

The script trains a small MLP in PyTorch on a synthetic regression task, with
the relu_xf variant named by --variant (default gelu) after each hidden layer.
It copies the trained weights into a Keras model and a JAX function that use
the same relu_xf variant and prints the largest output difference from the
PyTorch model, which stays within float32 rounding of the matrix products.

It then rebuilds the three models with each framework's own default
activation of the same name and prints those differences. For gelu, JAX's
``jax.nn.gelu`` defaults to the tanh approximation while ``torch.nn.GELU()``
is exact. For leaky_relu, ``keras.layers.LeakyReLU()`` has slope 0.3 while
``torch.nn.LeakyReLU()`` has 0.01. Each such mismatch changes the outputs of
the ported model without raising any error.

Keras uses the backend that KERAS_BACKEND selects (tensorflow when unset).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

import relu_xf

# Largest output difference accepted as "the same model". The outputs are of order 1,
# and float32 matrix products summed in different orders differ by about 1e-7, far below
# this bound. A mismatched activation default shifts them far above it.
TOLERANCE = 1e-5

LAYER_SIZES = (16, 32, 32, 1)


def make_data(seed: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Return float32 inputs and targets of a smooth nonlinear regression task."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(count, LAYER_SIZES[0])).astype(np.float32)
    y = np.sin(x[:, :4].sum(axis=1, keepdims=True)) + 0.5 * np.tanh(x[:, 4:8]).prod(
        axis=1, keepdims=True
    )
    return x, y.astype(np.float32)


def train_torch(variant: str, x: np.ndarray, y: np.ndarray, steps: int, seed: int) -> Any:
    """Train a PyTorch MLP with relu_xf activations; return the model."""
    import torch

    torch.manual_seed(seed)
    layers: list[Any] = []
    for i, (fan_in, fan_out) in enumerate(zip(LAYER_SIZES[:-1], LAYER_SIZES[1:], strict=True)):
        layers.append(torch.nn.Linear(fan_in, fan_out))
        if i < len(LAYER_SIZES) - 2:
            layers.append(relu_xf.layer(variant, backend="torch"))
    model = torch.nn.Sequential(*layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    inputs, targets = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = torch.mean((model(inputs) - targets) ** 2)
        loss.backward()
        optimizer.step()
    print(
        f"torch MLP {'-'.join(map(str, LAYER_SIZES))} with {variant}: {steps} Adam steps, training MSE {loss.item():.4f}"
    )
    return model


def dense_weights(model: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return (kernel, bias) per linear layer, with kernels laid out as x @ kernel."""
    import torch

    pairs = []
    for module in model:
        if isinstance(module, torch.nn.Linear):
            # torch stores (out, in); Keras and the JAX function use (in, out).
            pairs.append(
                (module.weight.detach().numpy().T.copy(), module.bias.detach().numpy().copy())
            )
    return pairs


def torch_outputs(
    weights: list[tuple[np.ndarray, np.ndarray]], activation: Any, x: np.ndarray
) -> np.ndarray:
    """Run the MLP in PyTorch with the given activation module between the linear layers."""
    import torch

    h = torch.from_numpy(x)
    with torch.no_grad():
        for i, (kernel, bias) in enumerate(weights):
            h = h @ torch.from_numpy(kernel) + torch.from_numpy(bias)
            if i < len(weights) - 1:
                h = activation(h)
    return h.numpy()


def keras_outputs(
    weights: list[tuple[np.ndarray, np.ndarray]], make_activation: Callable[[], Any], x: np.ndarray
) -> np.ndarray:
    """Build a Keras Sequential model with the weights and the activation layer, and run it."""
    import keras

    layers: list[Any] = [keras.Input(shape=(LAYER_SIZES[0],))]
    for i, (kernel, _) in enumerate(weights):
        layers.append(keras.layers.Dense(kernel.shape[1]))
        if i < len(weights) - 1:
            layers.append(make_activation())
    model = keras.Sequential(layers)
    model.set_weights([array for pair in weights for array in pair])
    return np.asarray(model.predict(x, verbose=0))


def jax_outputs(
    weights: list[tuple[np.ndarray, np.ndarray]], activation: Callable[[Any], Any], x: np.ndarray
) -> np.ndarray:
    """Run the MLP as a jitted JAX function with the given activation."""
    import jax
    import jax.numpy as jnp

    params = [(jnp.asarray(k), jnp.asarray(b)) for k, b in weights]

    @jax.jit
    def forward(h: jax.Array) -> jax.Array:
        for i, (kernel, bias) in enumerate(params):
            h = h @ kernel + bias
            if i < len(params) - 1:
                h = activation(h)
        return h

    return np.asarray(forward(jnp.asarray(x)))


def framework_defaults(variant: str) -> dict[str, tuple[str, Any]] | None:
    """Return each framework's own default activation for the variant, or None if not covered."""
    import jax
    import keras
    import torch

    if variant == "gelu":
        return {
            "torch": ("torch.nn.GELU()", torch.nn.GELU()),
            "keras": ("keras.layers.Activation('gelu')", lambda: keras.layers.Activation("gelu")),
            "jax": ("jax.nn.gelu", jax.nn.gelu),
        }
    if variant == "leaky_relu":
        return {
            "torch": ("torch.nn.LeakyReLU()", torch.nn.LeakyReLU()),
            "keras": ("keras.layers.LeakyReLU()", keras.layers.LeakyReLU),
            "jax": ("jax.nn.leaky_relu", jax.nn.leaky_relu),
        }
    return None


def report(label: str, outputs: np.ndarray, reference: np.ndarray) -> None:
    difference = float(np.max(np.abs(outputs - reference)))
    verdict = "same" if difference <= TOLERANCE else "different"
    print(f"  {label}: max abs diff {difference:.3g} ({verdict}, tolerance {TOLERANCE:g})")


def main(argv: list[str] | None = None) -> int:
    """Train, port and compare; print one line per comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--variant",
        default="gelu",
        choices=[n for n in relu_xf.variants() if n not in ("prelu", "crelu")],
        help="relu_xf variant after each hidden layer (default gelu)",
    )
    parser.add_argument(
        "--steps", type=int, default=300, help="Adam steps in PyTorch (default 300)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and the weights")
    parser.add_argument("--quick", action="store_true", help="train for 30 steps, for a smoke test")
    args = parser.parse_args(argv)
    steps = 30 if args.quick else args.steps

    x_train, y_train = make_data(args.seed, 1024)
    x_test, _ = make_data(args.seed + 1, 256)
    model = train_torch(args.variant, x_train, y_train, steps, args.seed)
    weights = dense_weights(model)
    keras_backend = os.environ.get("KERAS_BACKEND", "tensorflow")

    reference = torch_outputs(weights, relu_xf.layer(args.variant, backend="torch"), x_test)
    print(f"relu_xf {args.variant} in every framework, against the PyTorch model:")
    report(
        f"keras ({keras_backend}) relu_xf.layer({args.variant!r})",
        keras_outputs(weights, lambda: relu_xf.layer(args.variant, backend="keras"), x_test),
        reference,
    )
    report(
        f"jax relu_xf.get({args.variant!r})",
        jax_outputs(weights, relu_xf.get(args.variant, backend="jax"), x_test),
        reference,
    )

    defaults = framework_defaults(args.variant)
    if defaults is None:
        print(
            f"No framework-default comparison for {args.variant}; try --variant gelu or leaky_relu."
        )
        return 0
    torch_name, torch_activation = defaults["torch"]
    native_reference = torch_outputs(weights, torch_activation, x_test)
    print(f"Each framework's own default, against {torch_name} with the same weights:")
    keras_name, keras_activation = defaults["keras"]
    report(
        f"keras ({keras_backend}) {keras_name}",
        keras_outputs(weights, keras_activation, x_test),
        native_reference,
    )
    jax_name, jax_activation = defaults["jax"]
    report(f"jax {jax_name}", jax_outputs(weights, jax_activation, x_test), native_reference)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main())
