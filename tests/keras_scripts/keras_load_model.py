"""Load DIR/model.keras with safe_mode on and write its outputs on DIR/x.npy to DIR/loaded.npy.

Run in a fresh process by keras_checks.py, so nothing from the saving process
is reused. Also writes the PReLU slopes to DIR/loaded_alpha.npy.
"""

from __future__ import annotations

import sys
from pathlib import Path

import keras
import numpy as np

import relu_xf.keras  # noqa: F401  (registers the serializable objects and strings)


def main(directory: str) -> int:
    folder = Path(directory)
    model = keras.saving.load_model(folder / "model.keras", safe_mode=True)
    x = np.load(folder / "x.npy")
    np.save(folder / "loaded.npy", keras.ops.convert_to_numpy(model(x)))
    np.save(folder / "loaded_alpha.npy", keras.ops.convert_to_numpy(model.get_layer("prelu").alpha))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
