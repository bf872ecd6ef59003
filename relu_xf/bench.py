"""Benchmarks behind ``relu-xf bench``: relu_xf against each framework's own ops.

For every requested backend, variant, size, mode (eager or compiled) and pass
(forward, or forward plus the gradient of the sum), two contestants run in one
process: the function from ``relu_xf.get(variant, backend=B)`` with default
parameters, and the framework's native op for that variant, or, where the
framework has none, a hand-written composition of its ops (the table names
it). Each repetition times a batch of calls of both contestants back to back,
in alternating order, and the reported number is the median over repetitions
of the per-repetition ratio relu_xf time / baseline time. Interleaving keeps
the ratio meaningful on a shared machine whose speed drifts between
repetitions.

Memory: with ``--memory reuse`` (the default) glibc's malloc is configured, through
``mallopt``, to serve every allocation from its heap and never return freed
memory to the system, so an output buffer reuses pages that a previous call
freed. With ``--memory fresh`` glibc keeps its defaults, under which a buffer
of 32 MiB or more is a new ``mmap`` on every call and its first write takes one
page fault per 4 KiB page; at 16M float32 elements that dominates a ReLU.

Two more sections run in fresh subprocesses: import times (``import relu_xf``
with and without each backend) and the peak memory of torch's eager forward
and backward, read from the kernel's peak resident set size (see
``_memory_probe``).

No framework is imported at module level, because ``relu-xf`` imports this
module to build its argument parser.
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import gc
import json
import math
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._registry import resolve_backend, resolve_variant
from ._variants import VARIANTS

MODES = ("eager", "compiled")
PASSES = ("forward", "backward")
BENCH_BACKENDS = ("torch", "tf", "jax", "keras")
DEFAULT_BACKENDS = ("torch", "tf", "jax")
DEFAULT_SIZES = (4096, 1 << 20, 1 << 24)
QUICK_SIZES = (1024,)
DEFAULT_REPEAT = 7
QUICK_REPEAT = 2
# Inputs are shaped (size // CHANNELS, CHANNELS) when size is a multiple of it, so
# prelu has one slope per channel along axis 1 and crelu doubles the last axis.
CHANNELS = 64
# A batch of calls lasts at least this long, so timer resolution and Python
# overhead between batches stay below 1% of what is measured.
BATCH_SECONDS = 0.01
# Sizes below this bound get the looser 4K target, because per-call overhead
# dominates there.
LARGE_SIZE = 1 << 20
TARGET_SMALL = 1.10
TARGET_LARGE = 1.05
IMPORT_RUNS = 5
IMPORT_RUNS_QUICK = 1
FRAMEWORK_MODULES = ("torch", "tensorflow", "jax", "keras")

# Threads per framework set by --threads; 0 keeps each framework's default.
_THREADS = 0

# glibc mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8


# Results -------------------------------------------------------------------------


@dataclass
class Cell:
    """One comparison: a variant on a backend at one size, mode and pass."""

    backend: str
    variant: str
    size: int
    mode: str
    pass_: str
    baseline: str
    native: bool
    ratio: float = math.nan
    xf_seconds: float = math.nan
    baseline_seconds: float = math.nan
    ratio_low: float = math.nan
    ratio_high: float = math.nan
    calls: int = 0
    error: str = ""

    @property
    def target(self) -> float:
        return TARGET_LARGE if self.size >= LARGE_SIZE else TARGET_SMALL

    @property
    def met(self) -> bool:
        return not self.error and self.ratio <= self.target


@dataclass
class Report:
    """Everything one run measured, with the machine it ran on."""

    command: str
    machine: dict[str, str]
    cells: list[Cell] = field(default_factory=list)
    imports: list[dict[str, Any]] = field(default_factory=list)
    memory: list[dict[str, Any]] = field(default_factory=list)
    memory_size: int = 0
    seconds: float = 0.0


def size_label(size: int) -> str:
    """Return a size as 4K, 1M, 16M, or the plain number when it is no multiple of 1024."""
    if size % (1 << 20) == 0:
        return f"{size >> 20}M"
    if size % 1024 == 0:
        return f"{size >> 10}K"
    return str(size)


def _parse_size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*([kKmM]?)\s*", text)
    if match is None or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(
            f"invalid size {text!r}; give a positive element count such as 4096, 4K, 1M or 16M"
        )
    scale = {"": 1, "k": 1 << 10, "m": 1 << 20}[match.group(2).lower()]
    return int(match.group(1)) * scale


def _shape(size: int) -> tuple[int, ...]:
    return (size // CHANNELS, CHANNELS) if size % CHANNELS == 0 else (size,)


# Baselines ------------------------------------------------------------------------
# Each builder returns {variant: (label, native, function)} for default parameters.
# native is True where the framework ships a kernel with the variant's semantics.


def _torch_baselines() -> dict[str, tuple[str, bool, Callable[..., Any]]]:
    import torch
    import torch.nn.functional as F

    lower, upper = 1.0 / 8.0, 1.0 / 3.0

    def crelu(x: Any) -> Any:
        return torch.cat([torch.relu(x), torch.relu(-x)], dim=-1)

    def squared_relu(x: Any) -> Any:
        y = torch.relu(x)
        # In place when no graph is recorded; relu's backward needs its output intact.
        return y.square() if y.requires_grad else y.square_()

    return {
        "relu": ("torch.relu", True, torch.relu),
        "leaky_relu": ("F.leaky_relu", True, lambda x: F.leaky_relu(x, 0.01)),
        "prelu": ("F.prelu", True, F.prelu),
        "rrelu": ("F.rrelu(training=False)", True, lambda x: F.rrelu(x, lower, upper, False)),
        "elu": ("F.elu", True, lambda x: F.elu(x, 1.0)),
        "selu": ("F.selu", True, F.selu),
        "celu": ("F.celu", True, lambda x: F.celu(x, 1.0)),
        "crelu": ("cat([relu(x), relu(-x)])", False, crelu),
        "relu6": ("F.relu6", True, F.relu6),
        "thresholded_relu": ("F.threshold", True, lambda x: F.threshold(x, 1.0, 0.0)),
        "squared_relu": ("relu(x).square()", False, squared_relu),
        "gelu": ("F.gelu", True, F.gelu),
        "silu": ("F.silu", True, F.silu),
        "mish": ("F.mish", True, F.mish),
        "softplus": ("F.softplus", True, lambda x: F.softplus(x, 1.0, 20.0)),
        "hard_sigmoid": ("F.hardsigmoid", True, F.hardsigmoid),
        "hard_swish": ("F.hardswish", True, F.hardswish),
    }


def _tf_baselines() -> dict[str, tuple[str, bool, Callable[..., Any]]]:
    import tensorflow as tf

    slope = (1.0 / 8.0 + 1.0 / 3.0) / 2.0
    sixth = 1.0 / 6.0
    return {
        "relu": ("tf.nn.relu", True, tf.nn.relu),
        "leaky_relu": ("tf.nn.leaky_relu", True, lambda x: tf.nn.leaky_relu(x, 0.01)),
        "prelu": ("where(x > 0, x, w * x)", False, lambda x, w: tf.where(x > 0, x, w * x)),
        "rrelu": ("tf.nn.leaky_relu(mean slope)", True, lambda x: tf.nn.leaky_relu(x, slope)),
        "elu": ("tf.nn.elu", True, tf.nn.elu),
        "selu": ("tf.nn.selu", True, tf.nn.selu),
        # celu(x, alpha) = alpha * elu(x / alpha), which is elu itself at alpha = 1.
        "celu": ("tf.nn.elu (celu at alpha=1)", False, tf.nn.elu),
        "crelu": ("tf.nn.crelu", True, tf.nn.crelu),
        "relu6": ("tf.nn.relu6", True, tf.nn.relu6),
        "thresholded_relu": (
            "where(x > 1, x, 0)",
            False,
            lambda x: tf.where(x > 1.0, x, tf.zeros_like(x)),
        ),
        "squared_relu": ("square(relu(x))", False, lambda x: tf.square(tf.nn.relu(x))),
        "gelu": ("tf.nn.gelu", True, lambda x: tf.nn.gelu(x, approximate=False)),
        "silu": ("tf.nn.silu", True, tf.nn.silu),
        "mish": (
            "x * tanh(softplus(x))",
            False,
            lambda x: x * tf.tanh(tf.nn.softplus(x)),
        ),
        "softplus": ("tf.nn.softplus", True, tf.nn.softplus),
        "hard_sigmoid": (
            "relu6(x + 3) / 6",
            False,
            lambda x: tf.nn.relu6(x + 3.0) * sixth,
        ),
        "hard_swish": (
            "x * relu6(x + 3) / 6",
            False,
            lambda x: x * (tf.nn.relu6(x + 3.0) * sixth),
        ),
    }


def _jax_baselines() -> dict[str, tuple[str, bool, Callable[..., Any]]]:
    import jax
    import jax.numpy as jnp

    slope = (1.0 / 8.0 + 1.0 / 3.0) / 2.0
    return {
        "relu": ("jax.nn.relu", True, jax.nn.relu),
        "leaky_relu": ("jax.nn.leaky_relu", True, lambda x: jax.nn.leaky_relu(x, 0.01)),
        "prelu": ("where(x > 0, x, w * x)", False, lambda x, w: jnp.where(x > 0, x, w * x)),
        "rrelu": (
            "jax.nn.leaky_relu(mean slope)",
            True,
            lambda x: jax.nn.leaky_relu(x, slope),
        ),
        "elu": ("jax.nn.elu", True, jax.nn.elu),
        "selu": ("jax.nn.selu", True, jax.nn.selu),
        "celu": ("jax.nn.celu", True, jax.nn.celu),
        "crelu": (
            "concatenate([relu(x), relu(-x)])",
            False,
            lambda x: jnp.concatenate([jax.nn.relu(x), jax.nn.relu(-x)], axis=-1),
        ),
        "relu6": ("jax.nn.relu6", True, jax.nn.relu6),
        "thresholded_relu": (
            "where(x > 1, x, 0)",
            False,
            lambda x: jnp.where(x > 1.0, x, 0.0),
        ),
        "squared_relu": ("square(relu(x))", False, lambda x: jnp.square(jax.nn.relu(x))),
        "gelu": ("jax.nn.gelu", True, lambda x: jax.nn.gelu(x, approximate=False)),
        "silu": ("jax.nn.silu", True, jax.nn.silu),
        "mish": ("jax.nn.mish", True, jax.nn.mish),
        "softplus": ("jax.nn.softplus", True, jax.nn.softplus),
        "hard_sigmoid": ("jax.nn.hard_sigmoid", True, jax.nn.hard_sigmoid),
        "hard_swish": ("jax.nn.hard_swish", True, jax.nn.hard_swish),
    }


def _keras_baselines() -> dict[str, tuple[str, bool, Callable[..., Any]]]:
    import keras
    from keras import activations as A
    from keras import ops

    slope = (1.0 / 8.0 + 1.0 / 3.0) / 2.0
    return {
        "relu": ("activations.relu", True, A.relu),
        "leaky_relu": ("activations.leaky_relu", True, lambda x: A.leaky_relu(x, 0.01)),
        "prelu": (
            "ops.where(x > 0, x, w * x)",
            False,
            lambda x, w: ops.where(x > 0, x, w * x),
        ),
        "rrelu": ("activations.leaky_relu(mean slope)", True, lambda x: A.leaky_relu(x, slope)),
        "elu": ("activations.elu", True, A.elu),
        "selu": ("activations.selu", True, A.selu),
        "celu": ("activations.celu", True, lambda x: A.celu(x, 1.0)),
        "crelu": (
            "ops.concatenate([relu(x), relu(-x)])",
            False,
            lambda x: ops.concatenate([A.relu(x), A.relu(-x)], axis=-1),
        ),
        "relu6": ("activations.relu6", True, A.relu6),
        "thresholded_relu": (
            "activations.threshold(x, 1, 0)",
            True,
            lambda x: A.threshold(x, 1.0, 0.0),
        ),
        "squared_relu": ("ops.square(relu(x))", False, lambda x: ops.square(A.relu(x))),
        "gelu": ("activations.gelu", True, lambda x: A.gelu(x, approximate=False)),
        "silu": ("activations.silu", True, A.silu),
        "mish": ("activations.mish", True, A.mish),
        "softplus": ("activations.softplus", True, A.softplus),
        "hard_sigmoid": ("activations.hard_sigmoid", True, A.hard_sigmoid),
        "hard_swish": ("activations.hard_silu", True, A.hard_silu),
        "_framework": (keras.backend.backend(), True, A.relu),
    }


# Harnesses ------------------------------------------------------------------------
# A harness makes inputs for one framework and turns a function into a runner: a
# callable of no arguments that performs one call (and, for the backward pass, the
# gradient) and returns once the results are computed.


class _TorchHarness:
    framework = "torch"

    def __init__(self) -> None:
        import torch
        import torch._dynamo

        self.torch = torch
        # Every bound relu_xf function shares one code object, so each variant recompiles
        # it. Past the default limit of 8 recompilations, torch.compile runs eager code.
        torch._dynamo.config.cache_size_limit = 1024
        torch._dynamo.config.accumulated_cache_size_limit = 4096
        # Compile in this process: a pool of compile workers would compete for the
        # cores with the timed calls.
        torch._inductor.config.compile_threads = 1
        if _THREADS:
            torch.set_num_threads(_THREADS)

    def inputs(self, variant: str, size: int, grad: bool) -> tuple[Any, ...]:
        torch = self.torch
        generator = torch.Generator().manual_seed(size)
        x = torch.randn(_shape(size), generator=generator) * 3.0
        tensors = [x]
        if variant == "prelu":
            tensors.append(torch.full((_shape(size)[-1],), 0.25))
        return tuple(t.requires_grad_(grad) for t in tensors)

    def runner(
        self, function: Callable[..., Any], args: tuple[Any, ...], mode: str, pass_: str
    ) -> Callable[[], Any]:
        torch = self.torch
        if pass_ == "forward":
            target = torch.compile(function, dynamic=True) if mode == "compiled" else function
            return lambda: target(*args)

        def loss(*inputs: Any) -> Any:
            y = function(*inputs)
            return y, y.sum()

        step = torch.compile(loss, dynamic=True) if mode == "compiled" else loss

        def run() -> Any:
            y, total = step(*args)
            return y, torch.autograd.grad(total, args)

        return run

    def reset(self) -> None:
        self.torch._dynamo.reset()


class _TFHarness:
    framework = "tensorflow"

    def __init__(self) -> None:
        import numpy as np
        import tensorflow as tf

        self.tf = tf
        self.np = np
        if _THREADS:
            tf.config.threading.set_intra_op_parallelism_threads(_THREADS)
            tf.config.threading.set_inter_op_parallelism_threads(_THREADS)

    def inputs(self, variant: str, size: int, grad: bool) -> tuple[Any, ...]:
        tf, np = self.tf, self.np
        rng = np.random.default_rng(size)
        x = tf.constant(rng.standard_normal(_shape(size), dtype=np.float32) * 3.0)
        if variant == "prelu":
            return x, tf.constant(np.full((_shape(size)[-1],), 0.25, dtype=np.float32))
        return (x,)

    def runner(
        self, function: Callable[..., Any], args: tuple[Any, ...], mode: str, pass_: str
    ) -> Callable[[], Any]:
        tf = self.tf
        if pass_ == "forward":
            target = tf.function(function, jit_compile=True) if mode == "compiled" else function
            return lambda: target(*args)

        def step(*inputs: Any) -> Any:
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                y = function(*inputs)
                total = tf.reduce_sum(y)
            return y, tape.gradient(total, inputs)

        target = tf.function(step, jit_compile=True) if mode == "compiled" else step
        return lambda: target(*args)

    def reset(self) -> None:
        pass


class _JaxHarness:
    framework = "jax"

    def __init__(self) -> None:
        import jax
        import jax.numpy as jnp
        import numpy as np

        self.jax = jax
        self.jnp = jnp
        self.np = np

    def inputs(self, variant: str, size: int, grad: bool) -> tuple[Any, ...]:
        jnp, np = self.jnp, self.np
        rng = np.random.default_rng(size)
        x = jnp.asarray(rng.standard_normal(_shape(size), dtype=np.float32) * 3.0)
        if variant == "prelu":
            return x, jnp.full((_shape(size)[-1],), 0.25, dtype=jnp.float32)
        return (x,)

    def runner(
        self, function: Callable[..., Any], args: tuple[Any, ...], mode: str, pass_: str
    ) -> Callable[[], Any]:
        jax, jnp = self.jax, self.jnp
        if pass_ == "forward":
            target = jax.jit(function) if mode == "compiled" else function
        else:

            def loss(*inputs: Any) -> Any:
                y = function(*inputs)
                return jnp.sum(y), y

            target = jax.grad(loss, argnums=tuple(range(len(args))), has_aux=True)
            if mode == "compiled":
                target = jax.jit(target)
        return lambda: jax.block_until_ready(target(*args))

    def reset(self) -> None:
        self.jax.clear_caches()


_HARNESSES = {"torch": _TorchHarness, "tf": _TFHarness, "jax": _JaxHarness}
_BASELINES = {"torch": _torch_baselines, "tf": _tf_baselines, "jax": _jax_baselines}
_KERAS_BACKEND_HARNESS = {"tensorflow": "tf", "jax": "jax", "torch": "torch"}


def _harness_and_baselines(
    backend: str,
) -> tuple[Any, dict[str, tuple[str, bool, Callable[..., Any]]]]:
    if backend == "keras":
        baselines = _keras_baselines()
        framework = baselines.pop("_framework")[0]
        return _HARNESSES[_KERAS_BACKEND_HARNESS[framework]](), baselines
    return _HARNESSES[backend](), _BASELINES[backend]()


# Timing ---------------------------------------------------------------------------


def _time_batch(run: Callable[[], Any], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        run()
    return (time.perf_counter() - start) / calls


def _compare(xf: Callable[[], Any], baseline: Callable[[], Any], repeat: int, cell: Cell) -> None:
    """Time both runners round-robin and store the median ratio and times in ``cell``."""
    # The first calls compile (torch.compile, XLA, jax.jit) and warm caches.
    for _ in range(2):
        xf()
        baseline()
    single = min(_time_batch(xf, 1), _time_batch(baseline, 1))
    calls = max(1, min(10_000, math.ceil(BATCH_SECONDS / max(single, 1e-7))))
    ratios, xf_times, baseline_times = [], [], []
    for rep in range(repeat):
        if rep % 2 == 0:
            t_xf = _time_batch(xf, calls)
            t_base = _time_batch(baseline, calls)
        else:
            t_base = _time_batch(baseline, calls)
            t_xf = _time_batch(xf, calls)
        ratios.append(t_xf / t_base)
        xf_times.append(t_xf)
        baseline_times.append(t_base)
    ratios.sort()
    cell.ratio = statistics.median(ratios)
    cell.ratio_low, cell.ratio_high = ratios[0], ratios[-1]
    cell.xf_seconds = statistics.median(xf_times)
    cell.baseline_seconds = statistics.median(baseline_times)
    cell.calls = calls


def _run_backend(
    backend: str,
    variants: Sequence[str],
    sizes: Sequence[int],
    modes: Sequence[str],
    passes: Sequence[str],
    repeat: int,
    progress: Callable[[str], None],
) -> list[Cell]:
    import relu_xf

    harness, baselines = _harness_and_baselines(backend)
    cells = []
    for variant in variants:
        label, native, baseline_function = baselines[variant]
        xf_function = relu_xf.get(variant, backend=backend)
        for mode in modes:
            for pass_ in passes:
                for size in sizes:
                    cell = Cell(backend, variant, size, mode, pass_, label, native)
                    cells.append(cell)
                    gc.collect()
                    try:
                        args = harness.inputs(variant, size, pass_ == "backward")
                        xf = harness.runner(xf_function, args, mode, pass_)
                        base = harness.runner(baseline_function, args, mode, pass_)
                        gc.disable()
                        try:
                            _compare(xf, base, repeat, cell)
                        finally:
                            gc.enable()
                    except Exception as error:  # noqa: BLE001 - recorded in the table
                        cell.error = f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
                    progress(_progress_line(cell))
                if mode == "compiled":
                    # Compiled code of earlier variants is not needed again.
                    harness.reset()
    return cells


def _progress_line(cell: Cell) -> str:
    what = f"{cell.backend} {cell.variant} {cell.mode} {cell.pass_} {size_label(cell.size)}"
    if cell.error:
        return f"  {what}: error {cell.error}"
    return (
        f"  {what}: ratio {cell.ratio:.3f} ({cell.xf_seconds * 1e6:.1f} us vs "
        f"{cell.baseline_seconds * 1e6:.1f} us, {cell.calls} calls per batch)"
    )


# Memory handling -------------------------------------------------------------------


def _mallopt(settings: Sequence[tuple[int, int]]) -> bool:
    """Apply glibc ``mallopt`` settings; return False where libc is not glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return all(libc.mallopt(param, value) == 1 for param, value in settings)


def _reuse_freed_memory() -> bool:
    """Make glibc serve every allocation from its heap and keep freed memory there.

    With mmap disabled and the trim threshold at 1 GiB, a freed output buffer goes
    back to the heap and the next call's buffer reuses its pages, already mapped.
    One arena makes threads that frameworks start later share that heap.
    """
    return _mallopt(((_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, 1 << 30), (_M_ARENA_MAX, 1)))


# Import times ----------------------------------------------------------------------

_IMPORT_SCRIPT = """
import sys, time, json
t0 = time.perf_counter()
import numpy
t1 = time.perf_counter()
import relu_xf
t2 = time.perf_counter()
backend = sys.argv[1]
if backend != "-":
    relu_xf.get("relu", backend=backend)
t3 = time.perf_counter()
frameworks = [m for m in {frameworks!r} if m in sys.modules]
print(json.dumps({{"numpy": t1 - t0, "relu_xf": t2 - t1, "backend": t3 - t2,
                   "frameworks_after_import": frameworks_before, "frameworks": frameworks}}))
"""


def _import_script() -> str:
    # frameworks_before is taken right after import relu_xf, before any backend loads.
    script = _IMPORT_SCRIPT.format(frameworks=FRAMEWORK_MODULES)
    return script.replace(
        "t2 = time.perf_counter()\n",
        "t2 = time.perf_counter()\nframeworks_before = [m for m in "
        f"{FRAMEWORK_MODULES!r} if m in sys.modules]\n",
        1,
    )


def measure_imports(backends: Sequence[str], runs: int) -> list[dict[str, Any]]:
    """Time ``import numpy``, ``import relu_xf`` and each backend's first ``get`` in fresh processes.

    Each configuration runs ``runs`` times, interleaved with the others, and the
    medians are returned. Times are taken inside the subprocess with
    ``time.perf_counter``, so interpreter start-up is excluded.
    """
    script = _import_script()
    configs = ["-", *backends]
    samples: dict[str, list[dict[str, Any]]] = {c: [] for c in configs}
    env = {k: v for k, v in os.environ.items() if k != "PYTHONSTARTUP"}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for _ in range(runs):
        for config in configs:
            completed = subprocess.run(
                [sys.executable, "-c", script, config],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            lines = [ln for ln in completed.stdout.splitlines() if ln.startswith("{")]
            if completed.returncode != 0 or not lines:
                tail = (completed.stderr.strip().splitlines() or ["no output"])[-1]
                raise RuntimeError(f"import timing for backend {config!r} failed: {tail}")
            samples[config].append(json.loads(lines[-1]))
    results = []
    for config in configs:
        rows = samples[config]
        results.append(
            {
                "backend": "none" if config == "-" else config,
                "numpy": statistics.median(r["numpy"] for r in rows),
                "relu_xf": statistics.median(r["relu_xf"] for r in rows),
                "backend_seconds": statistics.median(r["backend"] for r in rows),
                "frameworks_after_import": sorted(
                    {m for r in rows for m in r["frameworks_after_import"]}
                ),
                "frameworks": sorted({m for r in rows for m in r["frameworks"]}),
                "runs": len(rows),
            }
        )
    return results


# Peak memory (torch eager) ---------------------------------------------------------


def _resident() -> tuple[int, int]:
    """Return (VmRSS, VmHWM) of this process in bytes, from /proc/self/status."""
    with open("/proc/self/status") as status:
        text = status.read()
    values = []
    for key in ("VmRSS", "VmHWM"):
        found = re.search(key + r":\s+(\d+) kB", text)
        if found is None:
            raise RuntimeError(f"{key} is missing from /proc/self/status; peak memory needs Linux.")
        values.append(int(found.group(1)) * 1024)
    return values[0], values[1]


def _peak_above(run: Callable[[], Any]) -> tuple[int, Any]:
    """Return the peak resident bytes above the current level while ``run`` executes, and its result.

    Writing 5 to /proc/self/clear_refs resets the kernel's peak resident set size
    (VmHWM) to the current size (Linux 4.0 and later), so VmHWM afterwards is the
    peak reached during the call.
    """
    gc.collect()
    before, _ = _resident()
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    result = run()
    _, peak = _resident()
    return peak - before, result


def _memory_probe(variants: Sequence[str], size: int) -> list[dict[str, Any]]:
    """Measure, in this process, the peak memory of torch eager calls above input size.

    Run it in a fresh process: mallopt makes every allocation of 64 KiB or more a
    separate mmap that is unmapped on free, so the resident set size rises and
    falls with each live buffer and its peak counts every temporary. For each
    variant and contestant it returns the peak of the forward call without a
    graph, and of forward plus the gradient of the sum, both in bytes, and the
    output size.
    """
    _mallopt(((_M_MMAP_THRESHOLD, 64 * 1024), (_M_TRIM_THRESHOLD, 64 * 1024)))
    import torch

    import relu_xf

    torch.set_num_threads(1)
    harness = _TorchHarness()
    baselines = _torch_baselines()
    rows = []
    for variant in variants:
        label, native, baseline = baselines[variant]
        row: dict[str, Any] = {"variant": variant, "baseline": label, "native": native}
        for name, function in (
            ("xf", relu_xf.get(variant, backend="torch")),
            ("baseline", baseline),
        ):
            args = harness.inputs(variant, size, False)
            function(*args)
            forward, y = _peak_above(functools.partial(function, *args))
            row["output_bytes"] = y.numel() * y.element_size()
            del y
            grad_args = harness.inputs(variant, size, True)
            step = harness.runner(function, grad_args, "eager", "backward")
            step()
            backward, result = _peak_above(step)
            del result
            row[f"{name}_forward"] = forward
            row[f"{name}_backward"] = backward
        row["input_bytes"] = args[0].numel() * args[0].element_size()
        rows.append(row)
    return rows


def measure_memory(variants: Sequence[str], size: int) -> list[dict[str, Any]]:
    """Run ``_memory_probe`` in a fresh subprocess and return its rows."""
    code = (
        "import json, sys\nfrom relu_xf.bench import _memory_probe\n"
        f"print(json.dumps(_memory_probe({list(variants)!r}, {size})))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    lines = [ln for ln in completed.stdout.splitlines() if ln.startswith("[")]
    if completed.returncode != 0 or not lines:
        tail = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"peak memory probe failed: {tail}")
    return json.loads(lines[-1])  # type: ignore[no-any-return]


# Machine ---------------------------------------------------------------------------


def describe_machine(backends: Sequence[str]) -> dict[str, str]:
    """Return the CPU model, core count, load, memory and framework versions."""
    machine: dict[str, str] = {}
    model = platform.processor() or "unknown"
    flags = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            text = cpuinfo.read()
        found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
        if found:
            model = found.group(1).strip()
        found = re.search(r"^flags\s*:\s*(.+)$", text, re.MULTILINE)
        if found:
            present = set(found.group(1).split())
            flags = " ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "fma") if f in present)
    except OSError:
        pass
    machine["cpu"] = model + (f" ({flags})" if flags else "")
    machine["cores"] = str(os.cpu_count())
    try:
        with open("/proc/meminfo") as meminfo:
            total = re.search(r"MemTotal:\s+(\d+) kB", meminfo.read())
        if total:
            machine["memory"] = f"{int(total.group(1)) / 2**20:.1f} GiB"
    except OSError:
        pass
    machine["os"] = platform.platform()
    machine["python"] = platform.python_version()
    import numpy

    versions = [f"numpy {numpy.__version__}"]
    for backend in backends:
        module = {"tf": "tensorflow"}.get(backend, backend)
        imported = sys.modules.get(module)
        if imported is not None:
            versions.append(f"{module} {getattr(imported, '__version__', '?')}")
        if backend == "jax" and "jaxlib" in sys.modules:
            versions.append(f"jaxlib {sys.modules['jaxlib'].__version__}")
        if backend == "keras" and "keras" in sys.modules:
            versions.append(f"keras backend {sys.modules['keras'].backend.backend()}")
    machine["versions"] = ", ".join(versions)
    if "torch" in sys.modules:
        machine["torch threads"] = str(sys.modules["torch"].get_num_threads())
    if os.environ.get("XLA_FLAGS"):
        machine["XLA_FLAGS"] = os.environ["XLA_FLAGS"]
    return machine


# Formatting ------------------------------------------------------------------------


def _columns(cells: Sequence[Cell]) -> list[tuple[str, str, int]]:
    seen: list[tuple[str, str, int]] = []
    for cell in cells:
        key = (cell.mode, cell.pass_, cell.size)
        if key not in seen:
            seen.append(key)
    return seen


def _ratio_text(cell: Cell | None) -> str:
    if cell is None:
        return ""
    if cell.error:
        return "error"
    mark = "" if cell.met else " *"
    return f"{cell.ratio:.2f}{mark}"


def format_ratio_tables(cells: Sequence[Cell]) -> str:
    """Return one Markdown table per backend: variants by (mode, pass, size), median ratios."""
    lines = []
    for backend in dict.fromkeys(c.backend for c in cells):
        subset = [c for c in cells if c.backend == backend]
        columns = _columns(subset)
        header = ["variant", "baseline"] + [
            f"{mode[:3]} {'fwd' if pass_ == 'forward' else 'f+b'} {size_label(size)}"
            for mode, pass_, size in columns
        ]
        lines.append(f"### {backend}")
        lines.append("")
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join(["---", "---"] + ["---:"] * len(columns)) + "|")
        by_key = {(c.variant, c.mode, c.pass_, c.size): c for c in subset}
        for variant in dict.fromkeys(c.variant for c in subset):
            first = next(c for c in subset if c.variant == variant)
            kind = "native" if first.native else "composition"
            row = [variant, f"{kind}: `{first.baseline}`"]
            row += [_ratio_text(by_key.get((variant, *key))) for key in columns]
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    return "\n".join(lines)


def _seconds_text(seconds: float) -> str:
    if math.isnan(seconds):
        return ""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    return f"{seconds * 1e3:.2f} ms"


def format_detail_table(cells: Sequence[Cell]) -> str:
    """Return a Markdown table with one row per cell: times, ratio and its range."""
    lines = [
        "| backend | variant | mode | pass | size | relu_xf | baseline | ratio | min-max | calls/batch |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for c in cells:
        if c.error:
            lines.append(
                f"| {c.backend} | {c.variant} | {c.mode} | {c.pass_} | {size_label(c.size)} "
                f"| | | error | {c.error} | |"
            )
            continue
        lines.append(
            f"| {c.backend} | {c.variant} | {c.mode} | {c.pass_} | {size_label(c.size)} "
            f"| {_seconds_text(c.xf_seconds)} | {_seconds_text(c.baseline_seconds)} "
            f"| {c.ratio:.3f} | {c.ratio_low:.2f}-{c.ratio_high:.2f} | {c.calls} |"
        )
    return "\n".join(lines) + "\n"


def format_imports(rows: Sequence[dict[str, Any]]) -> str:
    """Return the import-time table in milliseconds."""
    lines = [
        "| configuration | import numpy | import relu_xf after numpy | first get(backend) "
        "| frameworks loaded by import relu_xf | frameworks loaded at the end | runs |",
        "|---|---:|---:|---:|---|---|---:|",
    ]
    for r in rows:
        name = (
            "import relu_xf" if r["backend"] == "none" else f"get('relu', backend='{r['backend']}')"
        )
        lines.append(
            f"| {name} | {r['numpy'] * 1e3:.1f} ms | {r['relu_xf'] * 1e3:.1f} ms "
            f"| {r['backend_seconds'] * 1e3:.0f} ms "
            f"| {', '.join(r['frameworks_after_import']) or 'none'} "
            f"| {', '.join(r['frameworks']) or 'none'} | {r['runs']} |"
        )
    return "\n".join(lines) + "\n"


def format_memory(rows: Sequence[dict[str, Any]], size: int) -> str:
    """Return the peak-memory table, in multiples of the input's size."""
    lines = [
        f"Peak resident memory above the inputs during one torch eager call, {size_label(size)} "
        "float32 elements, in multiples of the input size (output included; "
        "page granularity 4 KiB).",
        "",
        "| variant | baseline | output | relu_xf fwd | baseline fwd | relu_xf f+b | baseline f+b |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        unit = r["input_bytes"]
        lines.append(
            f"| {r['variant']} | `{r['baseline']}` | {r['output_bytes'] / unit:.2f} "
            f"| {r['xf_forward'] / unit:.2f} | {r['baseline_forward'] / unit:.2f} "
            f"| {r['xf_backward'] / unit:.2f} | {r['baseline_backward'] / unit:.2f} |"
        )
    return "\n".join(lines) + "\n"


def format_report(report: Report, detail: bool) -> str:
    """Return the whole report as Markdown."""
    parts = ["## Machine", ""]
    parts += [f"- {key}: {value}" for key, value in report.machine.items()]
    parts += ["", "## Command", "", "```", report.command, "```", ""]
    if report.cells:
        parts += [
            "## Ratios (relu_xf time / baseline time, median over repetitions)",
            "",
            "Columns: mode (eag = eager, com = compiled), pass (fwd = forward, f+b = forward "
            "and gradient of the sum), size in float32 elements. `*` marks a ratio above "
            f"the target ({TARGET_SMALL} below 1M elements, {TARGET_LARGE} from 1M).",
            "",
            format_ratio_tables(report.cells),
        ]
        if detail:
            parts += ["## Times per call", "", format_detail_table(report.cells)]
    if report.imports:
        parts += ["## Import times (fresh processes, medians)", "", format_imports(report.imports)]
    if report.memory:
        parts += [
            "## Peak memory (torch eager)",
            "",
            format_memory(report.memory, report.memory_size),
        ]
    parts += [f"Total time: {report.seconds:.0f} s."]
    return "\n".join(parts) + "\n"


# Command line ----------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``relu-xf bench`` to ``parser``."""
    parser.add_argument(
        "--backend",
        action="append",
        choices=BENCH_BACKENDS,
        help=f"backend to time (repeatable; default: {', '.join(DEFAULT_BACKENDS)}; keras runs "
        "on the backend Keras was started with)",
    )
    parser.add_argument(
        "--variant", action="append", help="variant or alias to time (repeatable; default: all)"
    )
    parser.add_argument(
        "--size",
        action="append",
        type=_parse_size,
        help="number of float32 elements, such as 4096, 4K, 1M, 16M (repeatable; default: 4K, "
        "1M and 16M)",
    )
    parser.add_argument(
        "--mode", action="append", choices=MODES, help="run mode (repeatable; default: both)"
    )
    parser.add_argument(
        "--pass",
        dest="pass_",
        action="append",
        choices=PASSES,
        help="forward alone, or forward plus the gradient of the sum (repeatable; default: both)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        help=f"repetitions per cell; the median ratio is reported (default: {DEFAULT_REPEAT}, "
        f"{QUICK_REPEAT} with --quick)",
    )
    parser.add_argument(
        "--memory",
        choices=("reuse", "fresh"),
        default="reuse",
        help="reuse: freed buffers are reused by glibc malloc (default); fresh: glibc defaults, "
        "under which each buffer of 32 MiB or more is newly mapped and page-faulted",
    )
    parser.add_argument(
        "--skip",
        action="append",
        choices=("ratios", "imports", "memory"),
        help="section to leave out (repeatable)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="intra-op threads for torch, TensorFlow and XLA (default 0: each framework's own "
        "default); 1 keeps timings stable on a machine shared with other work",
    )
    parser.add_argument(
        "--output", help="also write the report, with per-call times, to this Markdown file"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke test: {size_label(QUICK_SIZES[0])} elements, {QUICK_REPEAT} repetitions, "
        "one import run; timings are not meaningful",
    )


def _command(
    args: argparse.Namespace,
    backends: Sequence[str],
    variants: Sequence[str],
    sizes: Sequence[int],
    modes: Sequence[str],
    passes: Sequence[str],
    repeat: int,
) -> str:
    words = ["relu-xf", "bench"]
    if args.quick:
        words.append("--quick")
    for backend in backends:
        words += ["--backend", backend]
    if args.variant:
        for variant in variants:
            words += ["--variant", variant]
    for size in sizes:
        words += ["--size", size_label(size)]
    for mode in modes:
        words += ["--mode", mode]
    for pass_ in passes:
        words += ["--pass", pass_]
    words += ["--repeat", str(repeat), "--memory", args.memory]
    if args.threads:
        words += ["--threads", str(args.threads)]
    for section in args.skip or []:
        words += ["--skip", section]
    if args.output:
        words += ["--output", args.output]
    return shlex.join(words)


def main(args: argparse.Namespace) -> int:
    """Run the benchmarks selected by ``args``, print the report and return 0.

    Raises:
        ValueError: An unknown variant, a non-positive --repeat, or a backend
            whose framework is not installed.
    """
    started = time.perf_counter()
    backends = list(
        dict.fromkeys(resolve_backend(b).name for b in args.backend or DEFAULT_BACKENDS)
    )
    variants = list(
        dict.fromkeys(resolve_variant(v).name for v in args.variant or [v.name for v in VARIANTS])
    )
    sizes = list(dict.fromkeys(args.size or (QUICK_SIZES if args.quick else DEFAULT_SIZES)))
    modes = list(dict.fromkeys(args.mode or MODES))
    passes = list(dict.fromkeys(args.pass_ or PASSES))
    repeat = args.repeat
    if repeat is None:
        repeat = QUICK_REPEAT if args.quick else DEFAULT_REPEAT
    if repeat < 1:
        raise ValueError(f"--repeat {repeat} is invalid; give at least 1 repetition.")
    skip = set(args.skip or ())
    if args.threads < 0:
        raise ValueError(
            f"--threads {args.threads} is invalid; give 0 for the defaults or a count."
        )
    global _THREADS
    _THREADS = args.threads
    if args.threads and "jax" not in sys.modules:
        # XLA reads its flags when JAX starts its CPU client.
        flags = "--xla_cpu_multi_thread_eigen=false" if args.threads == 1 else ""
        os.environ["XLA_FLAGS"] = (
            os.environ.get("XLA_FLAGS", "")
            + f" {flags} intra_op_parallelism_threads={args.threads}"
        ).strip()
    import importlib.util

    for backend in backends:
        module = "tensorflow" if backend == "tf" else backend
        if importlib.util.find_spec(module) is None:
            raise ValueError(f"cannot time backend {backend!r}: {module} is not installed.")
    if args.memory == "reuse" and "ratios" not in skip and not _reuse_freed_memory():
        print(
            "relu-xf bench: note: glibc mallopt is unavailable; freed memory is not kept for reuse"
        )
    command = _command(args, backends, variants, sizes, modes, passes, repeat)
    load_at_start = (
        " ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else ""
    )

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    report = Report(command=command, machine={})
    if "ratios" not in skip:
        for backend in backends:
            progress(f"relu-xf bench: timing {backend}")
            report.cells += _run_backend(backend, variants, sizes, modes, passes, repeat, progress)
    if "imports" not in skip:
        progress("relu-xf bench: import times")
        report.imports = measure_imports(backends, IMPORT_RUNS_QUICK if args.quick else IMPORT_RUNS)
    if "memory" not in skip and "torch" in backends:
        progress("relu-xf bench: torch peak memory")
        report.memory_size = max(max(sizes), 1 << 20)
        report.memory = measure_memory(variants, report.memory_size)
    report.machine = describe_machine(backends)
    if load_at_start:
        report.machine["load average at start"] = load_at_start
    if hasattr(os, "getloadavg"):
        report.machine["load average at end"] = " ".join(f"{v:.2f}" for v in os.getloadavg())
    report.machine["memory handling"] = (
        "reuse (glibc mallopt: no mmap, 1 GiB trim threshold, one arena)"
        if args.memory == "reuse"
        else "fresh (glibc defaults)"
    )
    report.seconds = time.perf_counter() - started
    print(format_report(report, detail=False), end="")
    if args.output:
        with open(args.output, "w") as output:
            output.write(format_report(report, detail=True))
        print(f"wrote {args.output}")
    return 0
