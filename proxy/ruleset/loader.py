"""Load rule files from files and folders, validate them together and compile a RuleSet."""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from proxy.config import Config
from proxy.errors import InvalidFileError, Problem
from proxy.ruleset.checks import app_case_sensitive, check_app, check_file
from proxy.ruleset.guides import Guide
from proxy.ruleset.matcher import AppRules, Origin, RuleSet
from proxy.ruleset.source import BoundFile, RuleFileCache, bind_rule_file, compose_fast, display_path, locate
from proxy.ruleset.workflows import Feature, Workflow
from proxy.yamlbind import DEFAULT_MAX_BYTES, DEFAULT_MAX_NODES, read_text

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
    """Find where each app's rule paths are written in the config file, for messages about missing paths."""
    try:
        root = compose_fast(read_text(Path(config.source), config.source), config.source)
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


def discover(
    paths: Iterable[str | Path], positions: Mapping[Path, Problem] | None = None
) -> tuple[list[Path], list[Problem]]:
    """Expand files and folders into rule files (every *.yaml and *.yml below a folder, sorted).

    Files and folders whose names start with '.' are skipped inside folders. A path that does not
    exist is a problem. It is placed at the position in `positions` (where a config file lists the
    path), else at the path itself.
    """
    files: list[Path] = []
    problems: list[Problem] = []
    for listed in paths:
        path = Path(listed)
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
            message = "rule file or folder not found; expected an existing YAML file or folder"
            if written is not None:
                message = f"rule path '{display_path(path)}' not found; expected an existing YAML file or folder"
                problems.append(Problem(written.file, written.line, written.column, message))
            else:
                problems.append(Problem(display_path(path), 1, 1, message))
    return files, problems


def watched_paths(sources: RuleSources) -> list[Path]:
    """Return every rule file that the sources expand to now, for change detection."""
    files, _ = discover(path for paths in sources.values() for path in paths)
    return files


def load_rules(
    sources: RuleSources,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_nodes: int = DEFAULT_MAX_NODES,
    positions: Mapping[Path, Problem] | None = None,
    cache: RuleFileCache | None = None,
) -> RuleSet:
    """Load every app's rule files as a config lists them; raise InvalidFileError listing every problem.

    A file's `app:` key, when written, must name the app that lists it. `positions` (from
    rule_path_positions) places problems about missing paths in the config file. With a `cache`,
    files whose text has not changed since an earlier load with the same cache are not parsed again.
    """
    groups = [(app, tuple(Path(path) for path in paths)) for app, paths in sources.items()]
    return _load(groups, by_config=True, max_bytes=max_bytes, max_nodes=max_nodes, positions=positions, cache=cache)


def load_rule_paths(
    paths: Sequence[str | Path],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> RuleSet:
    """Load rule files and folders without a config: each file's `app:` key (default 'default') names its app."""
    groups = [(None, tuple(Path(path) for path in paths))]
    return _load(groups, by_config=False, max_bytes=max_bytes, max_nodes=max_nodes, positions=None, cache=None)


_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_restore = False


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a rule set is built.

    Binding allocates hundreds of thousands of small objects but no cycles that need collecting
    early. The collections those allocations trigger would otherwise take about half of the load
    time. Concurrent loads share one pause, and the collector is re-enabled only if it was on.
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
    positions: Mapping[Path, Problem] | None,
    cache: RuleFileCache | None,
) -> RuleSet:
    started = time.perf_counter()
    with _gc_paused():
        loaded: dict[Path, BoundFile | None] = {}
        try:
            ruleset = _load_files(groups, loaded, by_config, max_bytes, max_nodes, positions, cache)
        finally:
            if cache is not None:
                cache.retain(set(loaded))
                for bound in loaded.values():
                    if bound is not None:
                        bound.forget_tree()
            # Drop the node trees while the collector is still paused. Reference counting frees them
            # here, so the collection that runs when the pause ends does not walk them.
            loaded.clear()
    logger.debug(
        "compiled %d rules from %d files for apps %s in %.3f s",
        ruleset.rule_count, len(ruleset.files), ", ".join(sorted(ruleset.apps)), time.perf_counter() - started,
    )
    return ruleset


def _load_files(
    groups: Sequence[tuple[str | None, tuple[Path, ...]]],
    loaded: dict[Path, BoundFile | None],
    by_config: bool,
    max_bytes: int,
    max_nodes: int,
    positions: Mapping[Path, Problem] | None,
    cache: RuleFileCache | None,
) -> RuleSet:
    problems: list[Problem] = []
    apps: dict[str, list[BoundFile]] = {}
    for app, paths in groups:
        if app is not None:
            apps.setdefault(app, [])
        files, missing = discover(paths, positions)
        problems.extend(missing)
        for path in files:
            key = path.resolve()
            if key not in loaded:
                loaded[key] = _bind(path, problems, max_bytes, max_nodes, cache)
            bound = loaded[key]
            if bound is None:
                continue
            owner = app if app is not None else (bound.rules.app or DEFAULT_APP)
            members = apps.setdefault(owner, [])
            if not any(member is bound for member in members):
                members.append(bound)

    config_apps = frozenset(apps) if by_config else None
    for app, members in apps.items():
        problems.extend(check_app(app, members, config_apps))
    if problems:
        raise InvalidFileError(problems)

    compiled = {app: _compile_app(app, members) for app, members in apps.items()}
    bound_files = [bound for bound in loaded.values() if bound is not None]
    return RuleSet(compiled, files=[bound.display for bound in bound_files], watched=[bound.path for bound in bound_files])


def _bind(
    path: Path, problems: list[Problem], max_bytes: int, max_nodes: int, cache: RuleFileCache | None
) -> BoundFile | None:
    """Bind one file and run the checks of that file alone, adding its problems to `problems`."""
    try:
        if cache is not None:
            bound, own, cached = cache.bind(path, max_bytes=max_bytes, max_nodes=max_nodes)
        else:
            bound, own, cached = bind_rule_file(path, max_bytes=max_bytes, max_nodes=max_nodes), [], False
    except InvalidFileError as error:
        problems.extend(error.problems)
        return None
    problems.extend(own)
    if bound is not None and not cached:
        checked = check_file(bound)
        problems.extend(checked)
        if cache is not None:
            cache.remember_problems(path, checked)
    return bound


def _compile_app(app: str, files: Sequence[BoundFile]) -> AppRules:
    guides: list[Guide] = []
    workflows: list[Workflow] = []
    features: list[Feature] = []
    origins: dict[tuple[str, str], Origin] = {}
    locales: dict[str, str] = {}
    for bound in files:
        guides.extend(bound.rules.guides)
        workflows.extend(bound.rules.workflows)
        features.extend(bound.rules.features)
        origins.update(bound.origins)
        locales.update((guide.id, bound.rules.locale) for guide in bound.rules.guides)
    declared = frozenset(role for bound in files if bound.rules.roles for role in bound.rules.roles.declared)
    return AppRules(
        app,
        guides=guides,
        workflows=workflows,
        features=features,
        case_sensitive=app_case_sensitive(files),
        declared_roles=declared,
        origins=origins,
        locales=locales,
    )
