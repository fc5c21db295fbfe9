"""Reload rule files when they change: validate the new set, swap it in whole, or keep the last good one."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from proxy.errors import InvalidFileError, Problem
from proxy.ruleset.loader import RuleSources, load_rules, watched_paths
from proxy.ruleset.matcher import EMPTY_RULESET, RuleSet
from proxy.ruleset.source import RuleFileCache
from proxy.yamlbind import DEFAULT_MAX_BYTES, DEFAULT_MAX_NODES

logger = logging.getLogger(__name__)

MAX_LOGGED_PROBLEMS = 20
"""Problems written to the log per failed reload; the rest are counted."""

Fingerprint = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class RuleStats:
    """Counters of rule loading, for the status page and metrics; replaced whole on each change."""

    rules_loaded: int = 0
    """Guides, workflows and features in the rule set that serves."""
    files_loaded: int = 0
    reloads: int = 0
    """Reloads that took effect, not counting the first load."""
    reload_errors: int = 0
    """Load attempts rejected because of problems in the files."""
    last_good_load: float | None = None
    """Unix time at which the rule set that serves was loaded."""
    last_attempt: float | None = None
    last_errors: tuple[str, ...] = ()
    """Problems of the latest rejected attempt, as file:line:column: message; empty after a good load."""


class RuleWatcher:
    """Holds the current RuleSet of every app and replaces it when the rule files change.

    Readers take `watcher.ruleset` once per request and use that object throughout. A reload builds
    a whole new immutable RuleSet and swaps it in with one reference assignment, so each request
    works with either the old set or the new one, never a mix. A set with any problem never takes
    effect; the last good set keeps serving and the problems are logged and kept in `stats`.
    """

    def __init__(
        self,
        sources: RuleSources,
        *,
        interval: float = 1.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_nodes: int = DEFAULT_MAX_NODES,
        clock: Callable[[], float] = time.time,
        positions: Mapping[Path, Problem] | None = None,
    ) -> None:
        self.sources = {app: tuple(Path(path) for path in paths) for app, paths in sources.items()}
        self._positions = positions
        self._cache = RuleFileCache()
        self.interval = interval
        self._max_bytes = max_bytes
        self._max_nodes = max_nodes
        self._clock = clock
        self._ruleset: RuleSet = EMPTY_RULESET
        self._stats = RuleStats()
        self._lock = threading.Lock()
        self._fingerprint: Fingerprint = ()
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def ruleset(self) -> RuleSet:
        """The rule set that serves now; take it once per request."""
        return self._ruleset

    @property
    def stats(self) -> RuleStats:
        return self._stats

    def load_initial(self) -> RuleSet:
        """Load the rules for start-up; raise InvalidFileError so that the server refuses to start."""
        with self._lock:
            fingerprint = self._take_fingerprint(self._ruleset)
            ruleset = self._load()
            self._fingerprint = fingerprint
            self._install(ruleset, first=True)
        logger.info(
            "loaded %d rules from %d files for apps %s", ruleset.rule_count, len(ruleset.files), ", ".join(sorted(ruleset.apps))
        )
        return ruleset

    def reload_now(self) -> bool:
        """Reload at once (blocking); return True when a new set took effect, False when it was rejected."""
        with self._lock:
            fingerprint = self._take_fingerprint(self._ruleset)
            self._fingerprint = fingerprint
            try:
                ruleset = self._load()
            except InvalidFileError as error:
                self._reject(error)
                return False
            self._install(ruleset, first=self._stats.last_good_load is None)
        logger.info(
            "reloaded %d rules from %d files for apps %s", ruleset.rule_count, len(ruleset.files), ", ".join(sorted(ruleset.apps))
        )
        return True

    def request_reload(self) -> None:
        """Ask the running `watch` task to reload now, e.g. from a SIGHUP handler; safe from any thread."""
        loop, wake = self._loop, self._wake
        if loop is None or wake is None:
            logger.warning("rule reload requested but the rule watcher is not running; call reload_now()")
            return
        loop.call_soon_threadsafe(wake.set)

    async def watch(self) -> None:
        """Poll the rule files every `interval` seconds and reload when one changes; runs until cancelled."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        logger.info("watching rule files of apps %s every %.1f s", ", ".join(sorted(self.sources)), self.interval)
        try:
            while True:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
                    requested = True
                except asyncio.TimeoutError:
                    requested = False
                self._wake.clear()
                fingerprint = await asyncio.to_thread(self._take_fingerprint, self._ruleset)
                if requested or fingerprint != self._fingerprint:
                    await asyncio.to_thread(self.reload_now)
        finally:
            self._loop = None
            self._wake = None
            logger.info("stopped watching rule files")

    def _load(self) -> RuleSet:
        return load_rules(
            self.sources, max_bytes=self._max_bytes, max_nodes=self._max_nodes, positions=self._positions, cache=self._cache
        )

    def _install(self, ruleset: RuleSet, *, first: bool) -> None:
        now = self._clock()
        self._ruleset = ruleset
        self._stats = replace(
            self._stats,
            rules_loaded=ruleset.rule_count,
            files_loaded=len(ruleset.files),
            reloads=self._stats.reloads + (0 if first else 1),
            last_good_load=now,
            last_attempt=now,
            last_errors=(),
        )

    def _reject(self, error: InvalidFileError) -> None:
        lines = [str(problem) for problem in error.problems]
        self._stats = replace(
            self._stats,
            reload_errors=self._stats.reload_errors + 1,
            last_attempt=self._clock(),
            last_errors=tuple(lines),
        )
        more = len(lines) - MAX_LOGGED_PROBLEMS
        logger.error(
            "rule reload rejected, the last good rules keep serving; %d problem(s):\n%s%s",
            len(lines),
            "\n".join(lines[:MAX_LOGGED_PROBLEMS]),
            f"\n... and {more} more" if more > 0 else "",
        )

    def _take_fingerprint(self, current: RuleSet) -> Fingerprint:
        paths = {str(path) for path in watched_paths(self.sources)}
        paths.update(str(path) for path in current.watched)
        entries = []
        for path in sorted(paths):
            try:
                status = os.stat(path)
            except OSError:
                entries.append((path, -1, -1))
                continue
            entries.append((path, status.st_mtime_ns, status.st_size))
        return tuple(entries)
