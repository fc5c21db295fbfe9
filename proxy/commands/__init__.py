"""Subcommands of the `guidegate` command line, one module each."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, Protocol

from proxy.commands import check, demo, match, report, run, schema

Subparsers = Any
"""argparse's private _SubParsersAction, which typeshed does not name publicly."""


class Command(Protocol):
    """A subcommand module: registers its parser, whose `handler` default runs it."""

    def add_parser(self, subparsers: Subparsers) -> argparse.ArgumentParser: ...


COMMANDS: list[Command] = [run, demo, check, match, schema, report]

Handler = Callable[[argparse.Namespace], int]
