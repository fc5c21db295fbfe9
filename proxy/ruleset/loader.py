"""Load rule files from files and folders, validate them together and compile a RuleSet."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

from proxy.config import Config
import yaml

from proxy.errors import InvalidFileError, Problem
from proxy.ruleset.checks import BoundFile, app_case_sensitive, check_app, check_file, locate
from proxy.ruleset.matcher import AppRules, Origin, RuleSet
from proxy.ruleset.guides import Guide
from proxy.ruleset.model import RuleFile
from proxy.ruleset.workflows import Feature, Workflow
from proxy.yamlbind import DEFAULT_MAX_BYTES, DEFAULT_MAX_NODES, BindContext, bind, compose, read_text

logger = logging.getLogger(__name__)

DEFAULT_APP = "default"
"""App of a rule file without an `app:` key when files are loaded without a config."""

RULE_SUFFIXES = (".yaml", ".yml")

RuleSources = Mapping[str, Sequence[str | Path]]
"""App name -> rule files and folders, as a config's apps list them."""


def sources_from_config(config: Config) -> dict[str, tuple[Path, ...]]:
    """Return each configured app's rule paths, resolved against the config file's folder."""
    return {app.name: tuple(config.resolve(path) for path in app.rules) for app in config.apps}


def rule_path_positions(config: Config) -> dict[Path, Problem]:
    """Where each app's rule paths are written in the config file, for messages about missing paths."""
    try:
        root = compose(read_text(Path(config.source), config.source), config.source)
    except InvalidFileError:
        return {}
    positions: dict[Path, Problem] = {}
    for app_index, app in enumerate(config.apps):
        for path_index, path in enumerate(app.rules):
            node = locate(root, ["apps", app_index, "rules", path_index])
            mark = node.start_mark if node is not None else None
            line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            positions.setdefault(config.resolve(path), Problem(config.source, line, column, ""))
    return positions


def display_path(path: Path) -> str:
    """A path as messages show it: relative to the working directory when below it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if relative.startswith("..") else relative


def discover(
    paths: Iterable[str | Path], positions: Mapping[Path, Problem] | None = None
) -> tuple[list[Path], list[Problem]]:
    """Expand files and folders into rule files (every *.yaml and *.yml below a folder, sorted).

    Files and folders whose names start with '.' are skipped inside folders. A path that does not
    exist is a problem, placed where `positions` says the path is written (a config file), else
    at the path itself.
    """
    files: list[Path] = []
    problems: list[Problem] = []
    for given in paths:
        path = Path(given)
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            found = []
            for candidate in path.rglob("*"):
                relative = candidate.relative_to(path).parts
                if any(part.startswith(".") for part in relative):
                    continue
                if candidate.suffix in RULE_SUFFIXES and candidate.is_file():
                    found.append(candidate)
            files.extend(sorted(found))
        else:
            written = (positions or {}).get(path)
            if written is not None:
                problems.append(
                    Problem(written.file, written.line, written.column,
                            f"rule path '{display_path(path)}' not found; expected an existing YAML file or folder")
                )
            else:
                problems.append(
                    Problem(display_path(path), 1, 1, "rule file or folder not found; expected an existing YAML file or folder")
                )
    return files, problems


def bind_rule_file(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, max_nodes: int = DEFAULT_MAX_NODES) -> BoundFile:
    """Read, parse and bind one rule file; raise InvalidFileError with every problem in it."""
    display = display_path(path)
    text = read_text(path, display, max_bytes)
    root = compose_fast(text, display)
    context = BindContext(display, environ={}, max_nodes=max_nodes)
    rules = bind(root, RuleFile, context)
    return BoundFile(path, display, root, rules)


MAX_ALIASES = 1000
"""Alias uses a rule file may contain, as yamlbind's composer allows."""

_CLoader = getattr(yaml, "CSafeLoader", None)


def compose_fast(text: str, display: str) -> yaml.Node | None:
    """Parse YAML into positioned nodes with libyaml when available, else as yamlbind.compose does.

    libyaml is about fifteen times faster than the pure-Python parser. Its node trees differ only
    in marking plain scalars with style '' instead of None, which is normalised here. Any error,
    and any document with more than MAX_ALIASES alias uses, is parsed again by yamlbind.compose,
    so that problems are reported in exactly the same words.
    """
    if _CLoader is None:
        return compose(text, display)
    try:
        root = yaml.compose(text, Loader=_CLoader)
    except yaml.YAMLError:
        return compose(text, display)
    if root is not None and _normalise(root) > MAX_ALIASES:
        return compose(text, display)
    return root


def _normalise(root: yaml.Node) -> int:
    """Set plain scalars' style to None and count alias uses (nodes reached more than once)."""
    seen: set[int] = set()
    aliases = 0
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            aliases += 1
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            if node.style == "":
                node.style = None
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.append(key)
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return aliases


def load_rules(
    sources: RuleSources,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_nodes: int = DEFAULT_MAX_NODES,
    positions: Mapping[Path, Problem] | None = None,
) -> RuleSet:
    """Load every app's rule files as a config lists them; raise InvalidFileError listing every problem.

    A file's `app:` key, when written, must name the app that lists it. `positions` (from
    rule_path_positions) places problems about missing paths in the config file.
    """
    groups = [(app, tuple(Path(path) for path in paths)) for app, paths in sources.items()]
    return _load(groups, by_config=True, max_bytes=max_bytes, max_nodes=max_nodes, positions=positions)


def load_rule_paths(
    paths: Sequence[str | Path],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> RuleSet:
    """Load rule files and folders without a config: each file's `app:` key (default 'default') names its app."""
    return _load([(None, tuple(Path(path) for path in paths))], by_config=False, max_bytes=max_bytes, max_nodes=max_nodes)


def watched_paths(sources: RuleSources) -> list[Path]:
    """Every rule file the sources expand to now, for change detection."""
    files, _ = discover(path for paths in sources.values() for path in paths)
    return files


_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_restore = False


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a rule set is built.

    Binding allocates hundreds of thousands of small objects but no cycles that need collecting
    early; the collections they trigger would otherwise take about half of the load time.
    Concurrent loads share one pause, and the collector is re-enabled only if it was on.
    """
    global _gc_pauses, _gc_restore
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_restore = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_restore:
                gc.enable()


def _load(
    groups: Sequence[tuple[str | None, tuple[Path, ...]]],
    *,
    by_config: bool,
    max_bytes: int,
    max_nodes: int,
    positions: Mapping[Path, Problem] | None = None,
) -> RuleSet:
    with _gc_paused():
        return _load_unpaused(groups, by_config, max_bytes, max_nodes, positions)


def _load_unpaused(
    groups: Sequence[tuple[str | None, tuple[Path, ...]]],
    by_config: bool,
    max_bytes: int,
    max_nodes: int,
    positions: Mapping[Path, Problem] | None,
) -> RuleSet:
    started = time.perf_counter()
    problems: list[Problem] = []
    bound_files: dict[Path, BoundFile | None] = {}
    apps: dict[str, list[BoundFile]] = {}
    for app, paths in groups:
        if app is not None:
            apps.setdefault(app, [])
        files, missing = discover(paths, positions)
        problems.extend(missing)
        for path in files:
            key = path.resolve()
            if key not in bound_files:
                try:
                    bound_files[key] = bind_rule_file(path, max_bytes=max_bytes, max_nodes=max_nodes)
                except InvalidFileError as error:
                    problems.extend(error.problems)
                    bound_files[key] = None
            bound = bound_files[key]
            if bound is None:
                continue
            owner = app if app is not None else (bound.rules.app or DEFAULT_APP)
            members = apps.setdefault(owner, [])
            if bound not in members:
                members.append(bound)
                bound.apps.append(owner)

    for bound in bound_files.values():
        if bound is not None:
            problems.extend(check_file(bound))
    config_apps = frozenset(apps) if by_config else None
    for app, members in apps.items():
        problems.extend(check_app(app, members, config_apps))
    if problems:
        raise InvalidFileError(problems)

    compiled = {app: _compile_app(app, members) for app, members in apps.items()}
    shown = [bound.display for bound in bound_files.values() if bound is not None]
    read = [bound.path for bound in bound_files.values() if bound is not None]
    ruleset = RuleSet(compiled, files=shown, watched=read)
    logger.debug(
        "compiled %d rules from %d files for apps %s in %.3f s",
        ruleset.rule_count, len(shown), ", ".join(sorted(compiled)), time.perf_counter() - started,
    )
    return ruleset


def _compile_app(app: str, files: Sequence[BoundFile]) -> AppRules:
    guides: list[Guide] = []
    workflows: list[Workflow] = []
    features: list[Feature] = []
    origins: dict[tuple[str, str], Origin] = {}
    locales: dict[str, str] = {}
    for bound in files:
        locales.update((guide.id, bound.rules.locale) for guide in bound.rules.guides)
        for section, bucket in (("guides", guides), ("workflows", workflows), ("features", features)):
            for index, rule in enumerate(getattr(bound.rules, section)):
                bucket.append(rule)
                where = bound.at([section, index], "")
                origins[(section.rstrip("s"), rule.id)] = Origin(where.file, where.line, where.column)
        for index, workflow in enumerate(bound.rules.workflows):
            named: list[tuple[str, str, tuple[str, ...]]] = [
                ("steps", "step", tuple(step.name for step in workflow.steps)),
                ("exclusions", "exclusion", tuple(exclusion.name for exclusion in workflow.exclusions)),
            ]
            for key, kind, names in named:
                for member_index, name in enumerate(names):
                    where = bound.at(["workflows", index, key, member_index], "")
                    origins[(kind, f"{workflow.id}/{name}")] = Origin(where.file, where.line, where.column)
    return AppRules(
        app,
        guides=guides,
        workflows=workflows,
        features=features,
        case_sensitive=app_case_sensitive(files),
        declared_roles=frozenset(role for bound in files if bound.rules.roles for role in bound.rules.roles.declared),
        origins=origins,
        locales=locales,
    )
