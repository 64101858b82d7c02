"""Subcommands of the ``cnnkit`` command line for this package."""

from __future__ import annotations

import argparse


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Register this package's subcommands; each sets ``func(args) -> int``."""
