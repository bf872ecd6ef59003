"""Benchmarks behind ``relu-xf bench``."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``relu-xf bench`` to ``parser``."""


def main(args: argparse.Namespace) -> int:
    """Run the benchmarks selected by ``args`` and print the ratios."""
    raise NotImplementedError("relu-xf bench is not implemented yet")
