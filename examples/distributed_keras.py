"""Train a Keras model with relu_xf.keras layers under keras.distribution.DataParallel on JAX.

KERAS_BACKEND=jax and ``--xla_force_host_platform_device_count=2`` are set
before Keras and JAX are imported, so the CPU appears as 2 JAX devices. The
model (Dense, PReLU, Dense, GELU, Dense, ELU, Dense) first trains on one
device. Then ``keras.distribution.set_distribution(DataParallel(...))`` makes
Keras replicate every variable, the PReLU slope included, on both devices and
shard every batch along its first axis. A second model with the same initial
weights trains on the same global batches, and the script compares the final
weights. They match within float32 rounding, because the gradient of a
batch split over two devices is summed in a different order.

Run:
    python examples/distributed_keras.py
"""

from __future__ import annotations

import os

# Keras reads its backend and XLA its device count once, at import.
os.environ["KERAS_BACKEND"] = "jax"
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"
).strip()

import argparse  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

import relu_xf.keras as rk  # noqa: E402

GLOBAL_BATCH, FEATURES, HIDDEN, OUTPUTS = 16, 8, 16, 4
STEPS = 5


class ShardingLog(keras.layers.Layer):
    """Identity layer that records how XLA shards its input, once per compilation."""

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.seen: list[str] = []

    def call(self, inputs):  # type: ignore[no-untyped-def]
        record = lambda sharding: self.seen.append(str(getattr(sharding, "spec", sharding)))  # noqa: E731
        jax.debug.inspect_array_sharding(inputs, callback=record)
        return inputs


def make_model() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((FEATURES,)),
            ShardingLog(),
            keras.layers.Dense(HIDDEN),
            rk.PReLU(),
            keras.layers.Dense(HIDDEN),
            rk.GELU(),
            keras.layers.Dense(HIDDEN),
            rk.ELU(alpha=0.5),
            keras.layers.Dense(OUTPUTS),
        ]
    )


def train(
    model: keras.Model, weights: list[np.ndarray], x: np.ndarray, y: np.ndarray
) -> list[float]:
    """Set ``weights``, fit one epoch of STEPS global batches in order and return the losses.

    The losses are Keras' running means after each step.
    """
    model.set_weights(weights)
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="mse")
    losses: list[float] = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: losses.append(float(logs["loss"]))
    )
    model.fit(x, y, batch_size=GLOBAL_BATCH, epochs=1, shuffle=False, verbose=0, callbacks=[record])
    return losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the results to this JSON file")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    x = rng.standard_normal((STEPS * GLOBAL_BATCH, FEATURES)).astype(np.float32)
    y = rng.standard_normal((STEPS * GLOBAL_BATCH, OUTPUTS)).astype(np.float32)
    keras.utils.set_random_seed(0)
    initial = make_model().get_weights()

    single = make_model()
    single_losses = train(single, initial, x, y)

    devices = jax.devices()
    distribution = keras.distribution.DataParallel(devices=devices)
    keras.distribution.set_distribution(distribution)
    parallel = make_model()
    parallel_losses = train(parallel, initial, x, y)
    slope = next(v for v in parallel.weights if v.path.endswith("alpha"))
    data_layout = distribution.get_data_layout((GLOBAL_BATCH, FEATURES))
    input_shardings = sorted(set(parallel.layers[0].seen))

    diffs = [
        float(np.max(np.abs(a - b)))
        for a, b in zip(parallel.get_weights(), single.get_weights(), strict=True)
    ]
    results = {
        "devices": len(devices),
        "data_layout_axes": list(data_layout.axes),
        "input_shardings": input_shardings,
        "slope_devices": len(slope.value.sharding.device_set),
        "slope_replicated": bool(slope.value.sharding.is_fully_replicated),
        "parallel_losses": parallel_losses,
        "single_losses": single_losses,
        "weights_max_abs_diff": max(diffs),
        "parallel_weights": [w.tolist() for w in parallel.get_weights()],
        "single_weights": [w.tolist() for w in single.get_weights()],
    }
    if args.out:
        args.out.write_text(json.dumps(results))
    print(f"DataParallel over {len(devices)} JAX CPU devices, global batch {GLOBAL_BATCH}")
    print(
        f"batch layout axes: {tuple(data_layout.axes)}, input sharding in the step: {input_shardings}"
    )
    print(
        f"PReLU slope on {results['slope_devices']} devices, "
        f"fully replicated: {results['slope_replicated']}"
    )
    print(f"losses, data parallel: {' '.join(f'{v:.6f}' for v in parallel_losses)}")
    print(f"losses, single:        {' '.join(f'{v:.6f}' for v in single_losses)}")
    print(f"max |data parallel - single| over weights after {STEPS} steps: {max(diffs):.3g}")


if __name__ == "__main__":
    main()
