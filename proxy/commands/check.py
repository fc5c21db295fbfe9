"""`guidegate check`: validate the configuration and rule files without starting anything."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from proxy.config import Config, load_config
from proxy.errors import GuidegateError, InvalidFileError, Problem
from proxy.events import create_store
from proxy.identity import build_resolvers
from proxy.ruleset import RuleSet, load_rule_paths, load_rules, rule_path_positions, sources_from_config


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `check`."""
    parser = subparsers.add_parser(
        "check",
        help="validate the configuration and rule files; exit 0 when valid, 1 otherwise",
        description=(
            "Validate the configuration and the rule files of every app without starting anything. "
            "Given rule files or folders, validate just those, without a config (e.g. in a rule repository's CI)."
        ),
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="rule files or folders to validate without a config")
    parser.add_argument(
        "--config", default=None, help="configuration file (default: config.yaml unless rule PATHs are given)"
    )
    parser.set_defaults(handler=handle)
    assert isinstance(parser, argparse.ArgumentParser)
    return parser


def handle(arguments: argparse.Namespace) -> int:
    """Print every problem found, one per line; return 0 when there are none."""
    problems: list[Problem] = []
    unpositioned: list[str] = []
    passed: list[str] = []
    config_path = arguments.config or (None if arguments.paths else "config.yaml")
    if config_path is not None:
        try:
            config = load_config(config_path)
        except InvalidFileError as error:
            problems.extend(error.problems)
        else:
            passed.append(f"{config_path}: OK")
            unpositioned.extend(_check_runtime_parts(config, config_path))
            try:
                ruleset = load_rules(sources_from_config(config), positions=rule_path_positions(config))
            except InvalidFileError as error:
                problems.extend(error.problems)
            else:
                passed.append(_rules_summary(ruleset))
    if arguments.paths:
        try:
            passed.append(_rules_summary(load_rule_paths(arguments.paths)))
        except InvalidFileError as error:
            problems.extend(error.problems)
    if problems or unpositioned:
        for problem in sorted(set(problems)):
            print(problem, file=sys.stderr)
        for message in unpositioned:
            print(message, file=sys.stderr)
        print(f"{len(set(problems)) + len(unpositioned)} problem(s) found", file=sys.stderr)
        return 1
    for line in passed:
        print(line)
    return 0


def _check_runtime_parts(config: Config, config_path: str) -> list[str]:
    """Build what the server builds at start-up from files the config names: identity keys and maps, the store."""
    messages: list[str] = []
    try:
        build_resolvers(config)
    except InvalidFileError as error:
        messages.extend(str(problem) for problem in error.problems)
    except GuidegateError as error:
        messages.append(f"{config_path}: {error}")
    try:
        create_store(config.storage, config.base_dir)
    except GuidegateError as error:
        messages.append(f"{config_path}: {error}")
    return messages


def _rules_summary(ruleset: RuleSet) -> str:
    guides = sum(len(app.guides) for app in ruleset.apps.values())
    workflows = sum(len(app.workflows) for app in ruleset.apps.values())
    features = sum(len(app.features) for app in ruleset.apps.values())
    apps = ", ".join(sorted(ruleset.apps)) or "none"
    return (
        f"rules: OK, {_count(guides, 'guide')}, {_count(workflows, 'workflow')}, {_count(features, 'feature')} "
        f"in {_count(len(ruleset.files), 'file')} (apps: {apps})"
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
