"""`guidegate match`: show which guides, workflow steps and features apply to a URL for some roles, and why others do not."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from proxy.config import load_config
from proxy.identity import IdentityResolver
from proxy.errors import GuidegateError, InvalidFileError
from proxy.ruleset import AppRules, RuleSet, load_rule_paths, load_rules, rule_path_positions, sources_from_config
from proxy.ruleset.explain import Explanation, Miss, explain

USAGE_ERROR = 2


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `match`."""
    parser = subparsers.add_parser(
        "match",
        help="show the guides, workflow steps and features that apply to a URL, and why others do not",
        description=(
            "Match a URL against the rules of an app for a user with the given roles. Lists what applies "
            "and, for rules that almost apply, the condition that failed."
        ),
    )
    parser.add_argument("url", metavar="URL", help="a path such as /po/42/edit?tab=lines, or a full URL")
    parser.add_argument("--role", action="append", default=[], metavar="ROLE", help="a role of the user; repeat for several")
    parser.add_argument(
        "--user", help="a user name; its roles come from the app's identity settings (map file, group roles, default roles)"
    )
    parser.add_argument(
        "--group", action="append", default=[], metavar="GROUP", help="an SSO group of --user, mapped by group_roles; repeat for several"
    )
    parser.add_argument("--method", default="GET", help="HTTP method of the request (default: GET)")
    parser.add_argument("--app", help="app whose rules apply; needed when there are several apps")
    parser.add_argument("--config", help="configuration file (default: config.yaml unless --rules is given)")
    parser.add_argument(
        "--rules", action="append", default=[], metavar="PATH", help="rule file or folder to use instead of a config; repeatable"
    )
    parser.add_argument(
        "--attribute", action="append", default=[], metavar="NAME=VALUE", help="a user attribute; repeat for several"
    )
    parser.add_argument("--at", metavar="TIME", help="evaluate schedules at this time, e.g. 2026-03-01T09:00:00+01:00 (default: now)")
    parser.add_argument("--all", action="store_true", help="also list rules whose path does not match")
    parser.set_defaults(handler=handle)
    assert isinstance(parser, argparse.ArgumentParser)
    return parser


def handle(arguments: argparse.Namespace) -> int:
    """Print what applies and the near misses; return 0, 1 for invalid rules, 2 for a usage error."""
    try:
        attributes = _attributes(arguments.attribute)
        now = _time(arguments.at)
    except ValueError as error:
        print(f"guidegate match: {error}", file=sys.stderr)
        return USAGE_ERROR
    try:
        ruleset, prefixes = _load(arguments)
    except InvalidFileError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        print(f"{len(error.problems)} problem(s) found", file=sys.stderr)
        return 1
    except FileNotFoundError as error:
        print(f"guidegate match: {error}", file=sys.stderr)
        return USAGE_ERROR

    app = _choose_app(ruleset, arguments.app)
    if app is None:
        return USAGE_ERROR
    parts = urlsplit(arguments.url)
    # Rules match percent-decoded paths, as the proxy does.
    path = unquote(parts.path) or "/"
    prefix = prefixes.get(app, "/")
    if prefix != "/":
        if not (path + "/").startswith(prefix):
            print(f"guidegate match: path {path} is not under app {app}'s path_prefix {prefix}", file=sys.stderr)
            return USAGE_ERROR
        path = "/" + path[len(prefix):]
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    method = arguments.method.upper()
    rules = ruleset.apps[app]
    roles = list(arguments.role)
    if arguments.user is not None or arguments.group:
        try:
            roles = sorted(set(roles) | _user_roles(arguments, app))
        except (GuidegateError, ValueError) as error:
            print(f"guidegate match: {error}", file=sys.stderr)
            return USAGE_ERROR
    result = explain(rules, path, method=method, query=query, roles=roles, attributes=attributes, now=now)
    _print(rules, result, method, path, roles, show_all=arguments.all)
    return 0


def _user_roles(arguments: argparse.Namespace, app: str) -> set[str]:
    """Run the app's identity chain for a user name alone: map file, group mapping, default roles."""
    if arguments.config is None and arguments.rules:
        raise ValueError("--user needs --config, because roles come from the app's identity settings")
    config = load_config(arguments.config or "config.yaml")
    configured = next((candidate for candidate in config.apps if candidate.name == app), None)
    if configured is None:
        raise ValueError(f"app '{app}' is not in {config.source}; expected one of: {', '.join(a.name for a in config.apps)}")
    resolver = IdentityResolver.for_app(config, configured)
    identity = resolver.resolve_for_cli(arguments.user or "", arguments.group)
    sources = [source for source in identity.sources if source != "cli"]
    print(f"user {arguments.user}: roles {', '.join(sorted(identity.roles)) or 'none'} (from {', '.join(sources) or 'nothing'})")
    return set(identity.roles)


def _load(arguments: argparse.Namespace) -> tuple[RuleSet, dict[str, str]]:
    if arguments.rules and arguments.config is None:
        return load_rule_paths(arguments.rules), {}
    config_path = arguments.config or "config.yaml"
    config = load_config(config_path)
    sources = sources_from_config(config)
    ruleset = load_rules(sources, positions=rule_path_positions(config))
    return ruleset, {app.name: app.path_prefix for app in config.apps}


def _choose_app(ruleset: RuleSet, requested: str | None) -> str | None:
    names = sorted(ruleset.apps)
    if requested is not None:
        if requested in ruleset.apps:
            return requested
        print(f"guidegate match: unknown app '{requested}'; expected one of: {', '.join(names) or 'none'}", file=sys.stderr)
        return None
    if len(names) == 1:
        return names[0]
    if not names:
        print("guidegate match: no rules loaded; expected --rules PATH or a config whose apps list rules", file=sys.stderr)
        return None
    print(f"guidegate match: several apps ({', '.join(names)}); choose one with --app", file=sys.stderr)
    return None


def _attributes(pairs: Sequence[str]) -> dict[str, str]:
    attributes = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator or not name:
            raise ValueError(f"invalid --attribute '{pair}'; expected NAME=VALUE such as department=sales")
        attributes[name] = value
    return attributes


def _time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"invalid --at '{text}'; expected a time such as 2026-03-01T09:00:00+01:00") from None


def _print(rules: AppRules, result: Explanation, method: str, path: str, roles: Sequence[str], *, show_all: bool) -> None:
    user = ", ".join(roles) if roles else "no roles"
    print(f"app {rules.name}: {method} {path} as {user}")

    print(f"\nguides that apply ({len(result.guides)}):")
    for match in result.guides:
        where = rules.origins.get(("guide", match.guide.id))
        detail = "" if match.starts_here else f"continues at step {', '.join(str(step + 1) for step in match.steps_here)}"
        _row(match.guide.id, match.guide.kind, _params(match.params), detail, str(where or ""))

    print(f"\nworkflow steps ({len(result.request.steps)}):")
    for step in result.request.steps:
        fields = f"needs form fields {', '.join(step.step.fields)}" if step.step.fields else ""
        name = f"{step.workflow.id}/{step.step.name}"
        where = rules.origins.get(("step", name))
        _row(name, f"step {step.index + 1}", _params(step.params), fields, str(where or ""))
    if result.request.abandons:
        print(f"\nexclusions, ending a run as abandoned ({len(result.request.abandons)}):")
        for abandon in result.request.abandons:
            name = f"{abandon.workflow.id}/{abandon.exclusion.name}"
            where = rules.origins.get(("exclusion", name))
            _row(name, "exclusion", _params(abandon.params), "", str(where or ""))

    print(f"\nfeatures ({len(result.request.features)}):")
    for feature in result.request.features:
        where = rules.origins.get(("feature", feature.feature.id))
        _row(feature.feature.id, "feature", _params(feature.params), "", str(where or ""))

    listed: list[Miss] = list(result.misses) if show_all else list(result.near_misses)
    print(f"\n{'rules that do not apply' if show_all else 'near misses'} ({len(listed)}):")
    for miss in listed:
        print(f"  {miss.kind} {miss.name}: {miss.reason}" + (f"  [{miss.origin}]" if miss.origin else ""))
    hidden = len(result.misses) - len(listed)
    if hidden:
        print(f"\n{hidden} other rule(s) do not match the path; --all lists them")


def _row(name: str, kind: str, params: str, detail: str, where: str) -> None:
    extra = "; ".join(cell for cell in (params, detail) if cell)
    line = f"  {name:<28} {kind:<12} {where}"
    print(f"{line}  {extra}" if extra else line.rstrip())


def _params(params: Mapping[str, Any]) -> str:
    if not params:
        return ""
    return "params " + ", ".join(f"{name}={value}" for name, value in params.items())
