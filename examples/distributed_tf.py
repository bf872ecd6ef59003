"""Train a Keras model with relu_xf.keras layers under tf.distribute.MirroredStrategy on 2 CPUs.

The script splits the physical CPU into 2 logical devices before TensorFlow
creates any, and sets KERAS_BACKEND=tensorflow before Keras is imported. The
model (Dense, PReLU, Dense, GELU, Dense, ELU, Dense) is built inside the
strategy's scope, so every variable, the PReLU slope included, is mirrored on
both devices. Each replica gets half of every global batch. A twin model with
the same initial weights trains on one device, on the same global batches, and
the script compares the final weights. They match within float32 rounding,
because the replicas' gradients are summed in a different order than one
full-batch gradient.

Run:
    python examples/distributed_tf.py
"""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

# Logical devices must be configured before TensorFlow initializes its runtime.
_CPU = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _CPU, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402

import relu_xf.keras as rk  # noqa: E402

GLOBAL_BATCH, FEATURES, HIDDEN, OUTPUTS = 16, 8, 16, 4
STEPS = 5


class RowLog(keras.layers.Layer):
    """Identity layer that appends "replica R rows N" for every batch it receives to a file."""

    def __init__(self, path: str, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        self.log_path = path

    def call(self, inputs):  # type: ignore[no-untyped-def]
        context = tf.distribute.get_replica_context()
        replica = context.replica_id_in_sync_group if context is not None else -1
        tf.print(
            "replica", replica, "rows", tf.shape(inputs)[0], output_stream=f"file://{self.log_path}"
        )
        return inputs


def make_model(row_log: str) -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((FEATURES,)),
            RowLog(row_log),
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

    The losses are Keras' running means after each step. ``fit`` splits every
    global batch across the replicas. ``train_on_batch`` would not: in Keras
    3.15.1 under MirroredStrategy it gives every replica the whole batch.
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
    initial = make_model(os.devnull).get_weights()

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with tempfile.TemporaryDirectory() as scratch:
        mirrored_log = os.path.join(scratch, "mirrored_rows.txt")
        with strategy.scope():
            mirrored = make_model(mirrored_log)
            mirrored_losses = train(mirrored, initial, x, y)
        with open(mirrored_log) as lines:
            replica_rows = sorted(set(line.strip() for line in lines))
    slope = next(v for v in mirrored.weights if v.path.endswith("alpha"))
    slope_replicas = (
        [np.asarray(t) for t in slope.value.values] if hasattr(slope.value, "values") else []
    )

    with tf.device("/cpu:0"):
        single = make_model(os.devnull)
        single_losses = train(single, initial, x, y)

    diffs = [
        float(np.max(np.abs(a - b)))
        for a, b in zip(mirrored.get_weights(), single.get_weights(), strict=True)
    ]
    results = {
        "replicas": strategy.num_replicas_in_sync,
        "slope_variable": type(slope.value).__name__,
        "slope_replicas_equal": bool(slope_replicas)
        and all(np.array_equal(slope_replicas[0], r) for r in slope_replicas),
        "replica_rows": replica_rows,
        "mirrored_losses": mirrored_losses,
        "single_losses": single_losses,
        "weights_max_abs_diff": max(diffs),
        "mirrored_weights": [w.tolist() for w in mirrored.get_weights()],
        "single_weights": [w.tolist() for w in single.get_weights()],
    }
    if args.out:
        args.out.write_text(json.dumps(results))
    print(
        f"MirroredStrategy over {strategy.num_replicas_in_sync} logical CPUs, global batch {GLOBAL_BATCH}"
    )
    print(f"rows per replica and step: {', '.join(replica_rows)}")
    print(
        f"PReLU slope variable: {results['slope_variable']}, replicas equal: {results['slope_replicas_equal']}"
    )
    print(f"losses, mirrored: {' '.join(f'{v:.6f}' for v in mirrored_losses)}")
    print(f"losses, single:   {' '.join(f'{v:.6f}' for v in single_losses)}")
    print(f"max |mirrored - single| over weights after {STEPS} steps: {max(diffs):.3g}")


if __name__ == "__main__":
    main()
