"""The ``cnnkit`` command. Each package registers its own subcommands (``add_parsers``)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Imported lazily so that ``cnnkit --help`` stays fast and light.
COMMAND_MODULES = ("cnnkit.training.cli", "cnnkit.image.cli", "cnnkit.viz.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnnkit", description="Convolutional neural networks on NumPy, identical to PyTorch."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).add_parsers(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
