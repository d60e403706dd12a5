"""The ``deepstrf`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from deepSTRF._version import __version__


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``deepstrf`` command."""
    parser = argparse.ArgumentParser(
        prog="deepstrf",
        description="Fit and evaluate encoding models of auditory neurons.",
    )
    parser.add_argument("--version", action="version", version=f"deepstrf {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``deepstrf`` command; returns the exit status."""
    parser = build_parser()
    parser.parse_args(argv)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
