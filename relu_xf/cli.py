"""The ``relu-xf`` command: list variants and run the parity harness."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

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
    return parser


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
