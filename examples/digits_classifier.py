"""Train the same digits classifier in PyTorch, Keras, TensorFlow and JAX with one relu_xf variant.

The data is scikit-learn's bundled 8x8 digits set (1797 images, no download).
Every framework starts from the same initial weights, gets the minibatches in
the same order and takes plain SGD steps on the mean softmax cross-entropy, so
the accuracies differ only by float32 rounding. The hidden layer uses the
relu_xf variant named by --variant in every framework.

For each framework the script prints the test accuracy and the number of dead
hidden units: units whose pre-activation is <= 0 for every test image, so they
sit on the flat branch of relu and pass no gradient. A high learning rate kills
more relu units than leaky_relu units, because a leaky unit keeps a gradient on
its negative branch and can recover:

    python examples/digits_classifier.py --variant relu --lr 2.0
    python examples/digits_classifier.py --variant leaky_relu --lr 2.0

Keras uses the backend that KERAS_BACKEND selects (tensorflow when unset).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import relu_xf

FRAMEWORKS = ("torch", "keras", "tf", "jax")
MODULES = {"torch": "torch", "keras": "keras", "tf": "tensorflow", "jax": "jax"}
# prelu needs a weight tensor and crelu doubles the layer width, so neither fits
# the one-tensor hidden layer that this script builds in every framework.
VARIANTS = [name for name in relu_xf.variants() if name not in ("prelu", "crelu")]


@dataclass
class Data:
    """Digits images scaled to [0, 1], split into training and test sets."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@dataclass
class Weights:
    """A one-hidden-layer MLP: logits = act(x @ w1 + b1) @ w2 + b2, all float32."""

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray


def load_data(seed: int) -> Data:
    """Load scikit-learn's digits and split off a stratified 20% test set."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, random_state=seed, stratify=y
    )
    return Data(x_train, y_train, x_test, y_test)


def initial_weights(inputs: int, hidden: int, classes: int, seed: int) -> Weights:
    """Draw He-normal weights and zero biases, shared by every framework."""
    rng = np.random.default_rng(seed)
    return Weights(
        w1=(rng.normal(size=(inputs, hidden)) * np.sqrt(2.0 / inputs)).astype(np.float32),
        b1=np.zeros(hidden, dtype=np.float32),
        w2=(rng.normal(size=(hidden, classes)) * np.sqrt(2.0 / hidden)).astype(np.float32),
        b2=np.zeros(classes, dtype=np.float32),
    )


def batch_orders(count: int, epochs: int, seed: int) -> list[np.ndarray]:
    """Return one permutation of the training indices per epoch."""
    rng = np.random.default_rng(seed + 1)
    return [rng.permutation(count) for _ in range(epochs)]


def batches(order: np.ndarray, batch_size: int) -> list[np.ndarray]:
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


# Frameworks -------------------------------------------------------------------------


def train_torch(
    args: argparse.Namespace, data: Data, init: Weights, orders: list[np.ndarray]
) -> Weights:
    import torch

    torch.manual_seed(args.seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(init.w1.shape[0], init.w1.shape[1]),
        relu_xf.layer(args.variant, backend="torch"),
        torch.nn.Linear(init.w2.shape[0], init.w2.shape[1]),
    )
    with torch.no_grad():
        # torch.nn.Linear stores the kernel as (out, in), the transpose of x @ w.
        model[0].weight.copy_(torch.from_numpy(init.w1.T))
        model[0].bias.copy_(torch.from_numpy(init.b1))
        model[2].weight.copy_(torch.from_numpy(init.w2.T))
        model[2].bias.copy_(torch.from_numpy(init.b2))
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    loss_function = torch.nn.CrossEntropyLoss()
    x_train = torch.from_numpy(data.x_train)
    y_train = torch.from_numpy(data.y_train)
    for order in orders:
        for index in batches(order, args.batch_size):
            selected = torch.from_numpy(index)
            optimizer.zero_grad()
            loss = loss_function(model(x_train[selected]), y_train[selected])
            loss.backward()
            optimizer.step()
    return Weights(
        model[0].weight.detach().numpy().T.copy(),
        model[0].bias.detach().numpy().copy(),
        model[2].weight.detach().numpy().T.copy(),
        model[2].bias.detach().numpy().copy(),
    )


def train_keras(
    args: argparse.Namespace, data: Data, init: Weights, orders: list[np.ndarray]
) -> Weights:
    import keras

    model = keras.Sequential(
        [
            keras.Input(shape=(init.w1.shape[0],)),
            keras.layers.Dense(init.w1.shape[1]),
            relu_xf.layer(args.variant, backend="keras"),
            keras.layers.Dense(init.w2.shape[1]),
        ]
    )
    model.set_weights([init.w1, init.b1, init.w2, init.b2])
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=args.lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    for order in orders:
        # shuffle=False keeps the batch order that every framework uses.
        model.fit(
            data.x_train[order],
            data.y_train[order],
            batch_size=args.batch_size,
            epochs=1,
            shuffle=False,
            verbose=0,
        )
    w1, b1, w2, b2 = model.get_weights()
    return Weights(w1, b1, w2, b2)


def train_tf(
    args: argparse.Namespace, data: Data, init: Weights, orders: list[np.ndarray]
) -> Weights:
    import tensorflow as tf

    activation = relu_xf.get(args.variant, backend="tf")
    variables = [tf.Variable(v) for v in (init.w1, init.b1, init.w2, init.b2)]

    @tf.function
    def step(x: tf.Tensor, y: tf.Tensor) -> None:
        w1, b1, w2, b2 = variables
        with tf.GradientTape() as tape:
            logits = activation(x @ w1 + b1) @ w2 + b2
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
            )
        for variable, gradient in zip(variables, tape.gradient(loss, variables), strict=True):
            variable.assign_sub(args.lr * gradient)

    for order in orders:
        for index in batches(order, args.batch_size):
            step(tf.constant(data.x_train[index]), tf.constant(data.y_train[index]))
    return Weights(*(v.numpy() for v in variables))


def train_jax(
    args: argparse.Namespace, data: Data, init: Weights, orders: list[np.ndarray]
) -> Weights:
    import jax
    import jax.numpy as jnp

    activation = relu_xf.get(args.variant, backend="jax")

    def loss(params: tuple[jax.Array, ...], x: jax.Array, y: jax.Array) -> jax.Array:
        w1, b1, w2, b2 = params
        logits = activation(x @ w1 + b1) @ w2 + b2
        log_probabilities = jax.nn.log_softmax(logits)
        return -jnp.mean(jnp.take_along_axis(log_probabilities, y[:, None], axis=1))

    @jax.jit
    def step(params: tuple[jax.Array, ...], x: jax.Array, y: jax.Array) -> tuple[jax.Array, ...]:
        gradients = jax.grad(loss)(params, x, y)
        return tuple(p - args.lr * g for p, g in zip(params, gradients, strict=True))

    params = tuple(jnp.asarray(v) for v in (init.w1, init.b1, init.w2, init.b2))
    for order in orders:
        for index in batches(order, args.batch_size):
            params = step(
                params, jnp.asarray(data.x_train[index]), jnp.asarray(data.y_train[index])
            )
    return Weights(*(np.asarray(p) for p in params))


TRAINERS: dict[str, Callable[[argparse.Namespace, Data, Weights, list[np.ndarray]], Weights]] = {
    "torch": train_torch,
    "keras": train_keras,
    "tf": train_tf,
    "jax": train_jax,
}


# Evaluation ---------------------------------------------------------------------------


def evaluate(variant: str, weights: Weights, data: Data) -> tuple[float, int]:
    """Return the test accuracy and the number of dead hidden units, with the NumPy reference."""
    activation = relu_xf.get(variant, backend="numpy")
    pre_activation = data.x_test @ weights.w1 + weights.b1
    logits = activation(pre_activation) @ weights.w2 + weights.b2
    accuracy = float(np.mean(np.argmax(logits, axis=1) == data.y_test))
    dead = int(np.sum(np.all(pre_activation <= 0, axis=0)))
    return accuracy, dead


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--variant", default="relu", choices=VARIANTS, help="relu_xf variant of the hidden layer"
    )
    parser.add_argument("--lr", type=float, default=0.1, help="SGD learning rate (default 0.1)")
    parser.add_argument("--epochs", type=int, default=30, help="training epochs (default 30)")
    parser.add_argument("--hidden", type=int, default=64, help="hidden units (default 64)")
    parser.add_argument("--batch-size", type=int, default=32, help="minibatch size (default 32)")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the split, weights and batch order"
    )
    parser.add_argument(
        "--frameworks",
        default=",".join(FRAMEWORKS),
        help=f"comma-separated frameworks to train (default {','.join(FRAMEWORKS)})",
    )
    parser.add_argument("--quick", action="store_true", help="train for 3 epochs, for a smoke test")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs = 3
    args.frameworks = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    unknown = [f for f in args.frameworks if f not in FRAMEWORKS]
    if unknown:
        parser.error(f"unknown framework {unknown[0]!r}; choose from {', '.join(FRAMEWORKS)}")
    if args.lr <= 0 or args.epochs < 1 or args.hidden < 1 or args.batch_size < 1:
        parser.error("--lr must be > 0, and --epochs, --hidden and --batch-size must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Train in every requested framework and print accuracy and dead units per framework."""
    args = parse_args(argv)
    data = load_data(args.seed)
    init = initial_weights(data.x_train.shape[1], args.hidden, 10, args.seed)
    orders = batch_orders(len(data.x_train), args.epochs, args.seed)
    print(
        f"variant {args.variant}, lr {args.lr:g}, {args.epochs} epochs, {args.hidden} hidden units, "
        f"{len(data.x_train)} training and {len(data.x_test)} test images"
    )
    _, dead_at_start = evaluate(args.variant, init, data)
    print(f"initial weights: dead units {dead_at_start}/{args.hidden}")
    for framework in args.frameworks:
        label = framework
        if framework == "keras":
            label = f"keras ({os.environ.get('KERAS_BACKEND', 'tensorflow')})"
        if importlib.util.find_spec(MODULES[framework]) is None:
            print(f"{label}: skipped, {MODULES[framework]} is not installed")
            continue
        start = time.perf_counter()
        weights = TRAINERS[framework](args, data, init, orders)
        seconds = time.perf_counter() - start
        accuracy, dead = evaluate(args.variant, weights, data)
        print(
            f"{label}: test accuracy {accuracy:.4f}, dead units {dead}/{args.hidden} "
            f"({100.0 * dead / args.hidden:.1f}%), trained in {seconds:.1f} s"
        )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main())
