"""The event store interface that the writer and the reports use, whichever database is behind it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from proxy.errors import GuidegateError
from proxy.events.model import Entry, Event

StepRow = tuple[float, str, str]
"""A workflow step as the run analysis reads it: (time, visitor, key).

`key` is `name + STEP_KEY_SEPARATOR + step + STEP_KEY_SEPARATOR + outcome` (outcome '' when none):
one text value per row instead of three makes the million-row report noticeably cheaper to read.
"""

STEP_KEY_SEPARATOR = "\x1f"
"""Separates the parts of a StepRow key; Event rejects control characters, so no id contains it."""

CodedStepRow = tuple[float, str, int]
"""A workflow step as the report reads it: (time, visitor, code), the code given by a StepCoding.

A small integer instead of the key text saves building a string per row, on the database side and
in Python, and hashing it. Reading the 545,000 step rows of bench/bench_events.py from SQLite took
0.41 s of CPU instead of 0.51 s.
"""

OUTCOME_PASS = 0
OUTCOME_FAILURE = 1
OUTCOME_ABANDON = 2
OUTCOME_CODES = 3
"""Outcome part of a step code: 'failure', 'abandon', and everything else (no outcome included)."""


@dataclass(frozen=True)
class StepCoding:
    """The numbering of workflow steps in CodedStepRow, for the workflows and steps of a report.

    Slots are numbered from 0: each workflow's steps in the order given, then one slot for any
    other step of that workflow. After every workflow comes one last slot, for a step of any
    workflow not listed. A row's code is `slot * OUTCOME_CODES + outcome`, where outcome is
    OUTCOME_FAILURE for 'failure', OUTCOME_ABANDON for 'abandon' and OUTCOME_PASS otherwise.
    Workflow ids and the steps of one workflow must each be distinct.
    """

    workflows: tuple[tuple[str, tuple[str, ...]], ...]

    def __post_init__(self) -> None:
        names = [name for name, _ in self.workflows]
        if len(set(names)) != len(names):
            raise ValueError(f"step coding lists a workflow twice in {names}; expected each workflow id once")
        for name, steps in self.workflows:
            if len(set(steps)) != len(steps):
                raise ValueError(f"step coding lists a step of workflow '{name}' twice; expected each step once")

    @property
    def slot_count(self) -> int:
        """Number of slots, the slot of an unknown workflow included."""
        return sum(len(steps) + 1 for _, steps in self.workflows) + 1

    def code(self, name: str, step: str, outcome: str | None) -> int:
        """Return the code of one step event, as the stores compute it in SQL."""
        slot = 0
        for workflow, steps in self.workflows:
            if workflow == name:
                slot += steps.index(step) if step in steps else len(steps)
                break
            slot += len(steps) + 1
        if outcome == "failure":
            part = OUTCOME_FAILURE
        elif outcome == "abandon":
            part = OUTCOME_ABANDON
        else:
            part = OUTCOME_PASS
        return slot * OUTCOME_CODES + part


VisitorRolesRow = tuple[str, str]
"""(visitor, roles as stored, e.g. '|clerk|manager|')."""

NameCountRow = tuple[str, str, str, int]
"""(kind, name, visitor, events)."""

TimeRow = tuple[float, str]
"""(time, visitor)."""


class StoreError(GuidegateError):
    """The event store failed."""


class StoreUnavailableError(StoreError):
    """The store cannot be reached or written right now; the same call may succeed later."""


class BatchRejectedError(StoreError):
    """The store refused the batch itself (a constraint or type error); retrying cannot help."""


class SchemaTooNewError(StoreError):
    """The database was migrated by a newer Guidegate than this one."""


class EventStore(Protocol):
    """An append-only event table plus the queries the reports need.

    Times are UTC epoch seconds; `since` is inclusive and `until` exclusive. Every query returns
    the same rows on every backend (in a defined order only where a method's documentation gives one).
    """

    description: str
    """Location of the store for logs, without any password."""

    async def open(self) -> None:
        """Connect and apply pending schema migrations; raise StoreUnavailableError when unreachable."""
        ...

    async def close(self) -> None:
        """Release the connection(s); a closed store may be opened again."""
        ...

    async def write(self, batch: Sequence[Entry]) -> None:
        """Append the events (Events or their Records) in one transaction: all are stored or none."""
        ...

    async def delete_older_than(self, cutoff: float) -> int:
        """Delete events with time < cutoff; return how many were deleted."""
        ...

    async def schema_version(self) -> int:
        """Return the highest applied migration."""
        ...

    async def count(self, app: str | None = None) -> int:
        """Return the number of stored events, of one app or of all."""
        ...

    async def read_events(self, app: str, since: float, until: float) -> list[Event]:
        """Return one app's events in the period, ordered by time then insertion."""
        ...

    def step_rows(self, app: str, since: float, until: float, page_size: int = 5000) -> AsyncIterator[list[StepRow]]:
        """Yield the app's workflow_step events in pages, ordered by time then insertion."""
        ...

    def coded_step_rows(
        self, app: str, since: float, until: float, coding: StepCoding, page_size: int = 5000
    ) -> AsyncIterator[list[CodedStepRow]]:
        """Yield the app's workflow_step events coded by `coding`, in pages, ordered by time then insertion."""
        ...

    async def visitor_roles(self, app: str, since: float, until: float) -> list[VisitorRolesRow]:
        """Return each distinct (visitor, roles) pair among the app's events in the period."""
        ...

    async def name_counts(
        self, app: str, kinds: Sequence[str], since: float, until: float
    ) -> list[NameCountRow]:
        """Return event counts per (kind, name, visitor) for events of the given kinds."""
        ...

    async def event_times(self, app: str, kinds: Sequence[str], since: float, until: float) -> list[TimeRow]:
        """Return (time, visitor) of every event of the given kinds."""
        ...
