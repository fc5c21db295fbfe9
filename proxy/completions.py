"""Per-visitor record of completed workflows, as the proxy saw them, for ticking checklist items."""

from __future__ import annotations

from collections import OrderedDict

from proxy.events import Event
from proxy.ruleset.watcher import RuleWatcher

MAX_VISITORS = 100_000
"""Visitors remembered at most; the least recently seen are forgotten first."""


class Completions:
    """Remembers, per app and visitor, the workflows whose last step succeeded.

    Capture hands it the events of successful last steps, so a checklist item is ticked only when
    the server saw the workflow finish, not when a guide was clicked through.

    NOTE: the memory is per process and starts empty: after a restart, or with several workers, a
    visitor's earlier completions show again only once the workflow is completed anew.
    """

    def __init__(self, rules: RuleWatcher, max_visitors: int = MAX_VISITORS) -> None:
        self._rules = rules
        self._max = max_visitors
        # Tuples, not sets: the garbage collector stops tracking a tuple of strings, and with one entry
        # per visitor there can be many entries to track.
        self._done: OrderedDict[tuple[str, str], tuple[str, ...]] = OrderedDict()

    def record(self, event: Event) -> None:
        """Note a completion when `event` is the successful last step of a workflow."""
        if event.kind != "workflow_step" or event.outcome != "success" or event.name is None:
            return
        rules = self._rules.ruleset.app(event.app)
        workflow = rules.workflow(event.name) if rules is not None else None
        if workflow is None or workflow.steps[-1].name != event.step:
            return
        key = (event.app, event.visitor)
        names = self._done.get(key, ())
        if event.name not in names:
            self._done[key] = (*names, event.name)
        self._done.move_to_end(key)
        while len(self._done) > self._max:
            self._done.popitem(last=False)

    def completed(self, app: str, visitor: str) -> frozenset[str]:
        """Return the workflows `visitor` completed in `app`."""
        return frozenset(self._done.get((app, visitor), ()))
