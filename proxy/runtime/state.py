"""Per-visitor guide state (current step, status, times shown, dismissed) and the store that keeps it."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Literal, Protocol, get_args

logger = logging.getLogger(__name__)

Status = Literal["new", "active", "completed", "ended"]
STATUSES: tuple[str, ...] = get_args(Status)
"""new: never started; active: a walkthrough in progress; completed; ended: stopped before the end."""

MAX_STEP = 999
MAX_SHOWN = 1_000_000
MAX_SEQ = 2**31 - 1


@dataclass(frozen=True)
class GuideState:
    """The runtime's record of one guide for one visitor.

    `step` is the 0-based index of the current walkthrough step, and `shown` counts how often the
    guide was shown. `dismissed` is set when the user closed it. `seq` orders the runtime's changes,
    so a late write from another tab never overwrites a newer one. `updated` is in epoch seconds.
    """

    step: int = 0
    status: Status = "new"
    shown: int = 0
    dismissed: bool = False
    seq: int = 0
    updated: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """Return the state as the runtime reads it."""
        return {
            "step": self.step,
            "status": self.status,
            "shown": self.shown,
            "dismissed": self.dismissed,
            "seq": self.seq,
            "updated": round(self.updated, 3),
        }


@dataclass(frozen=True)
class StateChange:
    """One change sent by the runtime: the fields it sets, and whether the guide was shown once more."""

    seq: int
    step: int | None = None
    status: Status | None = None
    dismissed: bool | None = None
    shown: bool = False

    def applied_to(self, state: GuideState, now: float) -> GuideState:
        """Return `state` with this change applied, or `state` itself when the change is older (lower seq)."""
        if self.seq < state.seq:
            return state
        return GuideState(
            step=state.step if self.step is None else self.step,
            status=state.status if self.status is None else self.status,
            shown=min(state.shown + 1, MAX_SHOWN) if self.shown else state.shown,
            dismissed=state.dismissed if self.dismissed is None else self.dismissed,
            seq=self.seq,
            updated=now,
        )


class StateStore(Protocol):
    """A store of guide state, keyed by app, visitor and guide id."""

    async def load(self, app: str, visitor: str, guides: Collection[str] | None = None) -> dict[str, GuideState]:
        """Return the visitor's state of the given guides (every guide with state when None); guides without state are left out."""
        ...

    async def apply(self, app: str, visitor: str, guide: str, change: StateChange) -> GuideState:
        """Apply a change to one guide's state and return the state now stored."""
        ...


class MemoryStateStore:
    """A StateStore in this process's memory, bounded in visitors and in guides per visitor.

    The least recently used visitor is forgotten past `max_visitors`, and a visitor's least
    recently changed guide past `max_guides`. A forgotten guide shows again as if new.
    """

    # NOTE: state lives in one process and is lost on restart. Several worker processes behind one
    # port each keep their own, so a walkthrough may restart when a page load reaches another worker.

    def __init__(
        self, *, max_visitors: int = 50_000, max_guides: int = 200, clock: Callable[[], float] = time.time
    ) -> None:
        self._visitors: OrderedDict[tuple[str, str], OrderedDict[str, GuideState]] = OrderedDict()
        self._max_visitors = max_visitors
        self._max_guides = max_guides
        self._clock = clock

    def __len__(self) -> int:
        return len(self._visitors)

    async def load(self, app: str, visitor: str, guides: Collection[str] | None = None) -> dict[str, GuideState]:
        states = self._visitors.get((app, visitor))
        if states is None:
            return {}
        self._visitors.move_to_end((app, visitor))
        if guides is None:
            return dict(states)
        return {guide: states[guide] for guide in guides if guide in states}

    async def apply(self, app: str, visitor: str, guide: str, change: StateChange) -> GuideState:
        key = (app, visitor)
        states = self._visitors.get(key)
        if states is None:
            states = self._visitors[key] = OrderedDict()
            if len(self._visitors) > self._max_visitors:
                self._visitors.popitem(last=False)
        self._visitors.move_to_end(key)
        state = change.applied_to(states.get(guide, GuideState()), self._clock())
        states[guide] = state
        states.move_to_end(guide)
        if len(states) > self._max_guides:
            states.popitem(last=False)
        return state

