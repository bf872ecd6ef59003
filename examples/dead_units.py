"""Watch ReLU units die, and leaky variants stay alive, with relu_xf.monitor.torch.

A two-hidden-layer MLP (64 -> 64 -> 64 -> 10) is trained on scikit-learn's
bundled 8x8 digits (1797 images, no download) with plain SGD, once per
activation variant and scenario:

* ``bias``: every hidden bias starts at --bias (default -1.0), so at the start
  each hidden unit's pre-activation is below zero for nearly every image.
* ``lr``: default initialization, but a high learning rate (--lr, default 0.5)
  whose first large steps push units below zero for every image.

Every --every steps the monitor runs the training images through the model and
counts, per hidden layer, the dead units (inactive for every image), the
inactive fraction and the zero fraction. relu units that die stay dead,
because they get no gradient; leaky_relu, prelu and elu units keep a gradient
on their negative side and recover.

Without scikit-learn the script uses a synthetic data set of the same shape
(two Gaussian blobs per class) and prints that it does.

    python examples/dead_units.py --quick
    python examples/dead_units.py --scenario lr --variants relu leaky_relu --plot-dir plots
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

import relu_xf.torch as rt
from relu_xf.monitor import format_report
from relu_xf.monitor.torch import DeadUnitMonitor

VARIANTS = ("relu", "leaky_relu", "prelu", "elu")


def load_data(seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Return images scaled to [0, 1], labels, and the name of the data set."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        rng = np.random.default_rng(seed)
        labels = rng.integers(0, 10, 1797)
        centers = rng.random((10, 64))
        images = np.clip(centers[labels] + rng.normal(0.0, 0.15, (1797, 64)), 0.0, 1.0)
        return images.astype(np.float32), labels, "synthetic (scikit-learn is not installed)"
    digits = load_digits()
    return (digits.data / 16.0).astype(np.float32), digits.target, "scikit-learn digits"


def activation(variant: str, units: int, negative_slope: float) -> nn.Module:
    """Return a relu_xf activation module; prelu gets one slope per unit."""
    if variant == "prelu":
        return rt.PReLU(num_parameters=units)
    if variant == "leaky_relu":
        return rt.LeakyReLU(negative_slope=negative_slope)
    modules = {"relu": rt.ReLU, "elu": rt.ELU}
    return modules[variant]()


def build_model(
    variant: str, bias: float | None, negative_slope: float, seed: int
) -> nn.Sequential:
    """Return the MLP; with ``bias`` every hidden bias starts at that value."""
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(64, 64),
        activation(variant, 64, negative_slope),
        nn.Linear(64, 64),
        activation(variant, 64, negative_slope),
        nn.Linear(64, 10),
    )
    if bias is not None:
        with torch.no_grad():
            model[0].bias.fill_(bias)
            model[2].bias.fill_(bias)
    return model


def train(
    variant: str, scenario: str, args: argparse.Namespace, x: torch.Tensor, y: torch.Tensor
) -> tuple[DeadUnitMonitor, float]:
    """Train one model; return its monitor and its training accuracy."""
    bias = args.bias if scenario == "bias" else None
    lr = args.lr if scenario == "lr" else args.base_lr
    model = build_model(variant, bias, args.negative_slope, args.seed)
    monitor = DeadUnitMonitor(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_function = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(args.seed)
    monitor.measure(x, step=0)
    step = 0
    for _ in range(args.epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), args.batch_size):
            index = order[start : start + args.batch_size]
            optimizer.zero_grad()
            loss_function(model(x[index]), y[index]).backward()
            optimizer.step()
            step += 1
            if step % args.every == 0:
                monitor.measure(x, step=step)
    if monitor.history.latest.step != step:
        monitor.measure(x, step=step)
    with torch.no_grad():
        accuracy = (model(x).argmax(1) == y).float().mean().item()
    return monitor, accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=("bias", "lr"), nargs="+", default=["bias", "lr"])
    parser.add_argument("--variants", choices=VARIANTS, nargs="+", default=list(VARIANTS))
    parser.add_argument("--epochs", type=int, default=20, help="passes over the training images")
    parser.add_argument("--batch-size", type=int, default=32, help="images per SGD step")
    parser.add_argument(
        "--bias", type=float, default=-1.0, help="initial hidden bias (bias scenario)"
    )
    parser.add_argument("--lr", type=float, default=0.5, help="learning rate (lr scenario)")
    parser.add_argument("--base-lr", type=float, default=0.3, help="learning rate (bias scenario)")
    parser.add_argument("--every", type=int, default=100, help="steps between measurements")
    parser.add_argument("--negative-slope", type=float, default=0.01, help="leaky_relu slope")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="5 epochs, for CI")
    parser.add_argument(
        "--plot-dir", type=Path, help="write one PNG of dead fractions per run here"
    )
    args = parser.parse_args()
    if args.quick:
        args.epochs = 5
    torch.set_num_threads(1)

    images, labels, source = load_data(args.seed)
    x = torch.from_numpy(images)
    y = torch.from_numpy(labels).long()
    print(f"data: {source}, {len(x)} images; {args.epochs} epochs of batch {args.batch_size}\n")
    summary = []
    for scenario in args.scenario:
        for variant in args.variants:
            began = time.perf_counter()
            monitor, accuracy = train(variant, scenario, args, x, y)
            seconds = time.perf_counter() - began
            history = monitor.history.measurements
            print(
                f"== scenario {scenario}, {variant}: training accuracy {accuracy:.3f} ({seconds:.1f} s)"
            )
            print(format_report(history[0]))
            print(monitor.report())
            print()
            if args.plot_dir is not None:
                args.plot_dir.mkdir(parents=True, exist_ok=True)
                monitor.plot(
                    args.plot_dir / f"{scenario}_{variant}.png", title=f"{scenario}: {variant}"
                )
            first, last = history[0].layers, history[-1].layers
            summary.append(
                (
                    scenario,
                    variant,
                    first["1"].dead_units,
                    last["1"].dead_units,
                    first["3"].dead_units,
                    last["3"].dead_units,
                    accuracy,
                )
            )
    print("scenario  variant     layer 1 dead start -> end  layer 2 dead start -> end  accuracy")
    for scenario, variant, d1a, d1b, d2a, d2b, accuracy in summary:
        print(
            f"{scenario:<9} {variant:<11} {d1a:>12} -> {d1b:<10} {d2a:>12} -> {d2b:<10} {accuracy:.3f}"
        )


if __name__ == "__main__":
    main()
