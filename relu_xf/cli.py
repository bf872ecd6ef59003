"""The ``relu-xf`` command: list variants and run the parity harness."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from ._registry import installed_backends
from ._variants import VARIANTS


def _list(args: argparse.Namespace) -> int:
    for variant in VARIANTS:
        aliases = f" (aliases: {', '.join(variant.aliases)})" if variant.aliases else ""
        print(f"{variant.name}{aliases}: {variant.summary}")
        for param in variant.params:
            print(f"    {param.name}={param.default!r}  {param.describe_range()}. {param.doc}")
    return 0


def _parity(args: argparse.Namespace) -> int:
    from . import parity

    backends = args.backend or [b.name for b in installed_backends()]
    print(f"relu-xf parity: backends {', '.join(backends)}", flush=True)
    results = parity.run(backends, args.variant, args.dtype, args.mode)
    print(parity.format_table(results))
    unsupported = [r for r in results if r.unsupported is not None]
    failed = [r for r in results if not r.passed]
    if unsupported:
        print("\nUnsupported (reported by the framework):")
        seen = set()
        for r in unsupported:
            key = (r.column, r.dtype, r.unsupported)
            if key not in seen:
                seen.add(key)
                print(f"  {r.column} {r.dtype}: {r.unsupported}")
    checked = len(results) - len(unsupported)
    print(f"\n{checked - len(failed)} passed, {len(failed)} failed, {len(unsupported)} unsupported")
    if failed:
        print("\nDisagreements with the reference:")
        for r in failed:
            for failure in r.failures:
                bound = r.value_bound if failure.startswith("value") else r.gradient_bound
                print(f"  {r.label} on {r.column} {r.dtype}: {failure}; bound {bound} ULPs")
        return 1
    return 0


def _parse_param(text: str) -> tuple[str, str]:
    key, separator, value = text.partition("=")
    if not separator or not key.strip():
        raise argparse.ArgumentTypeError(
            f"invalid --param {text!r}; write it as KEY=VALUE, for example negative_slope=0.2"
        )
    return key.strip(), value.strip()


def _convert_param(variant_name: str, key: str, text: str) -> object:
    """Convert the text of one --param to the type that the variant's parameter takes."""
    from ._registry import resolve_variant

    variant = resolve_variant(variant_name)
    param = next((p for p in variant.params if p.name == key), None)
    if param is None:
        accepted = ", ".join(p.name for p in variant.params) or "no parameters"
        raise ValueError(
            f"{variant.name}: unknown parameter {key!r}; {variant.name} accepts {accepted}."
        )
    if param.optional and text.lower() == "none":
        return None
    if param.kind is bool:
        if text.lower() not in ("true", "false"):
            raise ValueError(
                f"{variant.name}: parameter {key}={text!r} is not a bool; write true or false."
            )
        return text.lower() == "true"
    if param.kind is str:
        return text
    try:
        return param.kind(text)
    except ValueError:
        raise ValueError(
            f"{variant.name}: parameter {key}={text!r} is not {'an integer' if param.kind is int else 'a number'}; "
            f"{key} must be {param.describe_range()}."
        ) from None


def _plot(args: argparse.Namespace) -> int:
    from .plot import plot_variant

    params: dict[str, Any] = {
        key: _convert_param(args.name, key, text) for key, text in args.param or []
    }
    x_range = None
    if args.x_min is not None or args.x_max is not None:
        if args.x_min is None or args.x_max is None:
            raise ValueError("--x-min and --x-max must be given together.")
        x_range = (args.x_min, args.x_max)
    try:
        plot_variant(args.name, args.output, x_range=x_range, **params)
    except TypeError as error:
        # Unknown or wrongly typed parameters are usage errors here, reported with exit status 2.
        raise ValueError(str(error)) from error
    print(f"wrote {args.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of ``relu-xf``."""
    parser = argparse.ArgumentParser(
        prog="relu-xf", description="ReLU-family activations defined once for every framework."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="list variants, aliases, parameters and defaults")
    listing.set_defaults(run=_list)
    parity = commands.add_parser(
        "parity",
        help="compare every installed backend with the float64 reference",
        description="Compare backends with the float64 reference, values and gradients, and "
        "print the worst error in ULPs. Exits 1 on any disagreement.",
    )
    parity.add_argument(
        "--backend", action="append", help="backend to check (repeatable; default: all installed)"
    )
    parity.add_argument(
        "--variant", action="append", help="variant to check (repeatable; default: all)"
    )
    parity.add_argument(
        "--dtype",
        action="append",
        choices=("float16", "bfloat16", "float32", "float64"),
        help="dtype to check (repeatable; default: all four)",
    )
    parity.add_argument(
        "--mode",
        action="append",
        choices=("eager", "compiled"),
        help="run mode to check (repeatable; default: each backend's default modes; torch compiled runs only when named)",
    )
    parity.set_defaults(run=_parity)
    plot = commands.add_parser(
        "plot",
        help="draw a variant's function and derivative to a PNG (needs matplotlib)",
        description="Draw a variant's function and derivative from the float64 NumPy reference, "
        "with its breakpoints marked, and write the figure as a PNG.",
    )
    plot.add_argument("name", help="variant name or alias, for example leaky_relu")
    plot.add_argument(
        "--param",
        action="append",
        type=_parse_param,
        metavar="KEY=VALUE",
        help="variant parameter (repeatable), for example --param negative_slope=0.2",
    )
    plot.add_argument("-o", "--output", required=True, help="path of the PNG file to write")
    plot.add_argument("--x-min", type=float, help="left end of the x axis (default: automatic)")
    plot.add_argument("--x-max", type=float, help="right end of the x axis (default: automatic)")
    plot.set_defaults(run=_plot)
    bench = commands.add_parser(
        "bench",
        help="time every variant against the framework's native op and print ratios",
        description="Time relu_xf against each framework's native op (or the best "
        "hand-written composition) in one process, round-robin, and print the ratios.",
    )
    bench.set_defaults(run=_bench)
    from .bench import add_arguments

    add_arguments(bench)
    return parser


def _bench(args: argparse.Namespace) -> int:
    from .bench import main as bench_main

    return bench_main(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``relu-xf`` with ``argv`` and return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (ValueError, ImportError) as error:
        print(f"relu-xf: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
