"""Run relu_xf.jax activations under jax.jit on a mesh of 8 CPU devices.

XLA_FLAGS gets ``--xla_force_host_platform_device_count=8`` before JAX is
imported, so the CPU appears as 8 devices. They form a 4 x 2 mesh with axes
``data`` (batch) and ``model`` (features). The script checks two things:

1. Activation-only programs. x is sharded over both axes and the PReLU slope
   along ``model``, the feature axis. The sharded value and gradient must
   equal the single-device run. The compiled HLO must contain as many
   collectives (all-reduce, all-gather, reduce-scatter, collective-permute,
   all-to-all) as the same program written with plain ``jax.numpy`` /
   ``jax.nn`` ops. For an elementwise activation's value that count is zero.
2. A data-parallel training step of a small MLP (Linear, PReLU, GELU,
   Linear), with the hidden features and the slope sharded along ``model``.
   After a few SGD steps the parameters must match the single-device run
   within float32 rounding, and the step must have the same collectives as
   its plain twin.

Run:
    python examples/distributed_jax.py
"""

from __future__ import annotations

import os

# The device count is read once, when the CPU backend starts, so it must be
# set before jax is imported.
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
).strip()

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
from collections import Counter  # noqa: E402
from pathlib import Path  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.sharding import Mesh, NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

import relu_xf.jax as rj  # noqa: E402

BATCH, FEATURES, HIDDEN, OUTPUTS = 32, 8, 16, 4
STEPS = 5
LEARNING_RATE = 0.1
COLLECTIVES = ("all-reduce", "all-gather", "reduce-scatter", "collective-permute", "all-to-all")
# An HLO instruction reads "%name = f32[..]{..} opcode(operands)", so the opcode
# follows a space and precedes "("; async forms end in -start.
_COLLECTIVE = re.compile(r"\s(" + "|".join(COLLECTIVES) + r")(?:-start)?\(")


def count_collectives(jitted, *args) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Return how many of each collective op the compiled program of ``jitted(*args)`` has."""
    text = jitted.lower(*args).compile().as_text()
    counts = Counter(match.group(1) for match in _COLLECTIVE.finditer(text))
    return {op: counts.get(op, 0) for op in COLLECTIVES}


# Each entry: relu_xf function of (x, slope) and the same math in plain jax ops.
ACTIVATIONS = {
    "prelu": (rj.prelu, lambda x, a: jnp.where(x > 0, x, a * x)),
    "leaky_relu": (lambda x, a: rj.leaky_relu(x), lambda x, a: jnp.where(x > 0, x, 0.01 * x)),
    "elu": (lambda x, a: rj.elu(x), lambda x, a: jax.nn.elu(x)),
    "gelu": (lambda x, a: rj.gelu(x), lambda x, a: jax.nn.gelu(x, approximate=False)),
    "silu": (lambda x, a: rj.silu(x), lambda x, a: jax.nn.silu(x)),
    "crelu": (
        lambda x, a: rj.crelu(x),
        lambda x, a: jnp.concatenate([jax.nn.relu(x), jax.nn.relu(-x)], axis=-1),
    ),
}


def value_and_grads(function):  # type: ignore[no-untyped-def]
    """Return f(x, a) and the gradients of sum(f(x, a) * weights) with respect to x and a."""

    def run(x, a, weights):  # type: ignore[no-untyped-def]
        y = function(x, a)
        grads = jax.grad(lambda x, a: jnp.sum(function(x, a) * weights), argnums=(0, 1))(x, a)
        return y, grads

    return run


def check_activations(mesh: Mesh) -> dict[str, dict[str, object]]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, HIDDEN)).astype(np.float32)
    slope = rng.uniform(0.05, 0.5, HIDDEN).astype(np.float32)
    x_sharding = NamedSharding(mesh, P("data", "model"))
    slope_sharding = NamedSharding(mesh, P("model"))
    xs = jax.device_put(x, x_sharding)
    slopes = jax.device_put(slope, slope_sharding)
    results = {}
    for name, (function, plain) in ACTIVATIONS.items():
        y_shape = jax.eval_shape(function, x, slope).shape
        weights = rng.standard_normal(y_shape).astype(np.float32)
        ws = jax.device_put(weights, NamedSharding(mesh, P("data", "model")))
        sharded_value = jax.jit(lambda x, a, f=function: f(x, a))
        plain_value = jax.jit(lambda x, a, f=plain: f(x, a))
        sharded_grad = jax.jit(value_and_grads(function))
        plain_grad = jax.jit(value_and_grads(plain))
        y, (gx, ga) = sharded_grad(xs, slopes, ws)
        y1, (gx1, ga1) = jax.jit(value_and_grads(function))(x, slope, weights)
        results[name] = {
            "value_collectives": count_collectives(sharded_value, xs, slopes),
            "plain_value_collectives": count_collectives(plain_value, xs, slopes),
            "grad_collectives": count_collectives(sharded_grad, xs, slopes, ws),
            "plain_grad_collectives": count_collectives(plain_grad, xs, slopes, ws),
            "output_sharding": str(y.sharding.spec),
            "value_max_abs_diff": float(np.max(np.abs(np.asarray(y) - np.asarray(y1)))),
            "grad_x_max_abs_diff": float(np.max(np.abs(np.asarray(gx) - np.asarray(gx1)))),
            "grad_slope_max_abs_diff": float(np.max(np.abs(np.asarray(ga) - np.asarray(ga1)))),
        }
    return results


def mlp_loss(params, x, y, prelu, gelu):  # type: ignore[no-untyped-def]
    h = prelu(x @ params["w1"] + params["b1"], params["slope"])
    h = gelu(h)
    return jnp.mean((h @ params["w2"] + params["b2"] - y) ** 2)


def make_step(prelu, gelu):  # type: ignore[no-untyped-def]
    def step(params, x, y):  # type: ignore[no-untyped-def]
        loss, grads = jax.value_and_grad(mlp_loss)(params, x, y, prelu, gelu)
        return jax.tree.map(lambda p, g: p - LEARNING_RATE * g, params, grads), loss

    return step


def check_training(mesh: Mesh) -> dict[str, object]:
    rng = np.random.default_rng(1)
    params = {
        "w1": rng.standard_normal((FEATURES, HIDDEN)).astype(np.float32) / np.sqrt(FEATURES),
        "b1": np.zeros(HIDDEN, np.float32),
        "slope": np.full(HIDDEN, 0.25, np.float32),
        "w2": rng.standard_normal((HIDDEN, OUTPUTS)).astype(np.float32) / np.sqrt(HIDDEN),
        "b2": np.zeros(OUTPUTS, np.float32),
    }
    xs = rng.standard_normal((STEPS, BATCH, FEATURES)).astype(np.float32)
    ys = rng.standard_normal((STEPS, BATCH, OUTPUTS)).astype(np.float32)
    specs = {
        "w1": P(None, "model"),
        "b1": P("model"),
        "slope": P("model"),
        "w2": P("model", None),
        "b2": P(),
    }
    param_shardings = {k: NamedSharding(mesh, s) for k, s in specs.items()}
    batch_sharding = NamedSharding(mesh, P("data", None))
    shardings = (param_shardings, batch_sharding, batch_sharding)
    out_shardings = (param_shardings, NamedSharding(mesh, P()))

    relu_xf_step = make_step(rj.prelu, rj.gelu)
    plain_step = make_step(
        lambda x, a: jnp.where(x > 0, x, a * x), lambda x: jax.nn.gelu(x, approximate=False)
    )
    sharded = jax.jit(relu_xf_step, in_shardings=shardings, out_shardings=out_shardings)
    plain = jax.jit(plain_step, in_shardings=shardings, out_shardings=out_shardings)
    single = jax.jit(relu_xf_step)

    p_sharded = jax.device_put(params, param_shardings)
    p_single = params
    losses_sharded, losses_single = [], []
    for i in range(STEPS):
        x = jax.device_put(xs[i], batch_sharding)
        y = jax.device_put(ys[i], batch_sharding)
        p_sharded, loss = sharded(p_sharded, x, y)
        losses_sharded.append(float(loss))
        p_single, loss = single(p_single, xs[i], ys[i])
        losses_single.append(float(loss))
    x0 = jax.device_put(xs[0], batch_sharding)
    y0 = jax.device_put(ys[0], batch_sharding)
    return {
        "slope_sharding": str(p_sharded["slope"].sharding.spec),
        "slope_devices": len(p_sharded["slope"].sharding.device_set),
        "collectives": count_collectives(sharded, p_sharded, x0, y0),
        "plain_collectives": count_collectives(plain, p_sharded, x0, y0),
        "losses_sharded": losses_sharded,
        "losses_single": losses_single,
        "params_max_abs_diff": max(
            float(np.max(np.abs(np.asarray(p_sharded[k]) - np.asarray(p_single[k]))))
            for k in params
        ),
        "sharded_params": {k: np.asarray(v).tolist() for k, v in p_sharded.items()},
        "single_params": {k: np.asarray(v).tolist() for k, v in p_single.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the results to this JSON file")
    args = parser.parse_args()
    devices = jax.devices()
    mesh = Mesh(np.array(devices).reshape(4, 2), ("data", "model"))
    results = {"devices": len(devices), "activations": check_activations(mesh)}
    results["training"] = check_training(mesh)
    if args.out:
        args.out.write_text(json.dumps(results))

    print(
        f"{len(devices)} CPU devices, mesh {dict(mesh.shape)}, x sharded P('data', 'model'), slope P('model')"
    )
    print(
        "activation   collectives value/grad (relu_xf | plain)   max |sharded - single| y, dx, dslope"
    )
    for name, r in results["activations"].items():
        counts = [
            sum(r[key].values())  # type: ignore[attr-defined]
            for key in (
                "value_collectives",
                "grad_collectives",
                "plain_value_collectives",
                "plain_grad_collectives",
            )
        ]
        print(
            f"{name:12} {counts[0]}/{counts[1]} | {counts[2]}/{counts[3]}"
            f"{'':24}{r['value_max_abs_diff']:.3g}, {r['grad_x_max_abs_diff']:.3g}, {r['grad_slope_max_abs_diff']:.3g}"
        )
    t = results["training"]
    nonzero = {k: v for k, v in t["collectives"].items() if v}  # type: ignore[attr-defined]
    plain_nonzero = {k: v for k, v in t["plain_collectives"].items() if v}  # type: ignore[attr-defined]
    print(f"training step collectives: relu_xf {nonzero}, plain {plain_nonzero}")
    print(f"losses, sharded: {' '.join(f'{v:.6f}' for v in t['losses_sharded'])}")  # type: ignore[union-attr]
    print(f"losses, single:  {' '.join(f'{v:.6f}' for v in t['losses_single'])}")  # type: ignore[union-attr]
    print(
        f"max |sharded - single| over parameters after {STEPS} steps: {t['params_max_abs_diff']:.3g}"
    )


if __name__ == "__main__":
    main()
