"""Per-visitor record of completed workflows, as the proxy saw them, for ticking checklist items."""

from __future__ import annotations

from collections import OrderedDict

MAX_VISITORS = 100_000
"""Visitors remembered at most; the least recently seen are forgotten first."""


class Completions:
    """Remembers, per app and visitor, the workflows whose last step succeeded.

    Capture notes each successful last step of a workflow, so a checklist item is ticked only when
    the server saw the workflow finish, not when a guide was clicked through.

    NOTE: the memory is per process and starts empty: after a restart, or with several workers, a
    visitor's earlier completions show again only once the workflow is completed anew.
    """

    def __init__(self, max_visitors: int = MAX_VISITORS) -> None:
        self._max = max_visitors
        # Tuples, not sets: the garbage collector stops tracking a tuple of strings, and with one entry
        # per visitor there can be many entries to track.
        self._done: OrderedDict[tuple[str, str], tuple[str, ...]] = OrderedDict()

    def note(self, app: str, visitor: str, workflow: str) -> None:
        """Remember that `visitor` completed `workflow` in `app`: its last step succeeded."""
        key = (app, visitor)
        names = self._done.get(key, ())
        if workflow not in names:
            self._done[key] = (*names, workflow)
        self._done.move_to_end(key)
        while len(self._done) > self._max:
            self._done.popitem(last=False)

    def completed(self, app: str, visitor: str) -> frozenset[str]:
        """Return the workflows `visitor` completed in `app`."""
        return frozenset(self._done.get((app, visitor), ()))
