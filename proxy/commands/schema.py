"""`guidegate schema`: print the JSON Schema of rule files, for editors that autocomplete YAML."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from proxy.ruleset.schema import rules_json_schema


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `schema`."""
    parser = subparsers.add_parser(
        "schema",
        help="print the JSON Schema (draft 2020-12) of rule files",
        description=(
            "Print the JSON Schema of rule files. Point your editor's YAML language server at it, e.g. "
            "with a first line '# yaml-language-server: $schema=rules.schema.json' in each rule file."
        ),
    )
    parser.add_argument("--output", "-o", metavar="FILE", help="write the schema to FILE instead of standard output")
    parser.set_defaults(handler=handle)
    assert isinstance(parser, argparse.ArgumentParser)
    return parser


def handle(arguments: argparse.Namespace) -> int:
    """Print or write the schema; return 0, or 1 when the file cannot be written."""
    text = json.dumps(rules_json_schema(), indent=2, sort_keys=False) + "\n"
    if arguments.output is None:
        sys.stdout.write(text)
        return 0
    try:
        Path(arguments.output).write_text(text, encoding="utf-8")
    except OSError as error:
        print(f"guidegate schema: cannot write {arguments.output}: {error.strerror}", file=sys.stderr)
        return 1
    print(f"wrote {arguments.output}")
    return 0
