"""`guidegate check`: validate the configuration without starting anything."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from proxy.config import load_config
from proxy.errors import InvalidFileError


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `check`."""
    parser = subparsers.add_parser(
        "check",
        help="validate the configuration and rule files; exit 0 when valid, 1 otherwise",
        description="Validate the configuration and rule files without starting anything.",
    )
    parser.add_argument("--config", default="config.yaml", help="configuration file (default: config.yaml)")
    parser.set_defaults(handler=handle)
    assert isinstance(parser, argparse.ArgumentParser)
    return parser


def handle(arguments: argparse.Namespace) -> int:
    """Print every problem found, one per line; return 0 when there are none."""
    try:
        load_config(arguments.config)
    except InvalidFileError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        print(f"{len(error.problems)} problem(s) found", file=sys.stderr)
        return 1
    print(f"{arguments.config}: OK")
    return 0
