"""SQL shared by the SQLite and PostgreSQL stores, written once with '?' placeholders.

Both backends run the same statements, so the reports read the same rows from either. The
PostgreSQL store rewrites the placeholders to $1, $2, ... with `numbered`.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections.abc import Sequence
from typing import Any

from proxy.events.model import Event, decode_roles, encode_roles
from proxy.events.store import STEP_KEY_SEPARATOR

COLUMNS = (
    "time",
    "app",
    "visitor",
    "session",
    "roles",
    "kind",
    "name",
    "step",
    "outcome",
    "status",
    "duration",
    "detail",
)
"""Columns written per event, in the order of `record`."""

Record = tuple[float, str, str, str | None, str, str, str | None, str | None, str | None, int | None, float | None, str | None]

INSERT = f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"

INSERT_CHUNK_ROWS = 64
"""Maximum events per multi-row INSERT: 768 parameters, within the 999 that SQLite before 3.32 allows."""

_ROW_PLACEHOLDERS = f"({', '.join('?' for _ in COLUMNS)})"


@functools.lru_cache(maxsize=INSERT_CHUNK_ROWS)
def insert_rows(count: int) -> str:
    """Return a SQLite INSERT of `count` events in one statement, whose parameters are their records one after another.

    SQLite inserts the rows of a VALUES list in order, so they get ascending ids as with one
    INSERT per row. `OR FAIL` spares SQLite a statement journal, the copy of every changed page
    that it keeps to undo a statement that fails halfway. A failing row still raises, and the
    caller rolls back the whole transaction, so no row of the batch is kept.
    """
    return f"INSERT OR FAIL INTO events ({', '.join(COLUMNS)}) VALUES {', '.join([_ROW_PLACEHOLDERS] * count)}"


def chunked_parameters(rows: Sequence[Record], size: int = INSERT_CHUNK_ROWS) -> list[tuple[Any, ...]]:
    """Return the parameters of `insert_rows` for consecutive chunks of `size` rows; the last chunk may be shorter."""
    return [tuple(itertools.chain.from_iterable(rows[start : start + size])) for start in range(0, len(rows), size)]

SELECT_EVENTS = (
    f"SELECT {', '.join(COLUMNS)} FROM events WHERE app = ? AND time >= ? AND time < ? ORDER BY time, id"
)

# The covering index events_kind_time (app, kind, time, id, ...) returns these rows in order
# without a sort or a table lookup on SQLite.
STEP_ROWS = (
    f"SELECT time, visitor, name || '{STEP_KEY_SEPARATOR}' || step || '{STEP_KEY_SEPARATOR}' || "
    "COALESCE(outcome, '') FROM events "
    "WHERE app = ? AND kind = 'workflow_step' AND time >= ? AND time < ? "
    "AND name IS NOT NULL AND step IS NOT NULL ORDER BY time, id"
)

# events_visitor_roles (app, visitor, roles, time) lets the grouping stream from the index.
VISITOR_ROLES = "SELECT visitor, roles FROM events WHERE app = ? AND time >= ? AND time < ? GROUP BY visitor, roles"

COUNT_ALL = "SELECT COUNT(*) FROM events"
COUNT_APP = "SELECT COUNT(*) FROM events WHERE app = ?"

DELETE_CHUNK = "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE time < ? ORDER BY time LIMIT ?)"
DELETE_CHUNK_SIZE = 10_000
"""Rows deleted per statement, so retention never holds the write lock for long."""


def name_counts(kind_count: int) -> str:
    """Count events per (kind, name, visitor) for `kind_count` kinds; grouped in the order of events_name_visitor."""
    kinds = ", ".join("?" for _ in range(kind_count))
    return (
        "SELECT kind, name, visitor, COUNT(*) FROM events "
        f"WHERE app = ? AND kind IN ({kinds}) AND time >= ? AND time < ? AND name IS NOT NULL "
        "GROUP BY kind, name, visitor"
    )


def event_times(kind_count: int) -> str:
    """Select (time, visitor) of events of `kind_count` kinds."""
    kinds = ", ".join("?" for _ in range(kind_count))
    return f"SELECT time, visitor FROM events WHERE app = ? AND kind IN ({kinds}) AND time >= ? AND time < ?"


def record(event: Event) -> Record:
    """Return the column values of one event, in COLUMNS order."""
    return (
        event.time,
        event.app,
        event.visitor,
        event.session,
        encode_roles(event.roles),
        event.kind,
        event.name,
        event.step,
        event.outcome,
        event.status,
        event.duration,
        event.detail_json,
    )


def records(batch: Sequence[Event]) -> list[Record]:
    """Return the column values of every event in the batch."""
    return [record(event) for event in batch]


def event_from_row(row: Sequence[Any]) -> Event:
    """Rebuild an Event from a row in COLUMNS order."""
    time, app, visitor, session, roles, kind, name, step, outcome, status, duration, detail = row
    return Event(
        time=time,
        app=app,
        visitor=visitor,
        session=session,
        roles=decode_roles(roles),
        kind=kind,
        name=name,
        step=step,
        outcome=outcome,
        status=status,
        duration=duration,
        detail=json.loads(detail) if detail is not None else None,
    )


_PLACEHOLDER = re.compile(r"\?")


def numbered(sql: str) -> str:
    """Rewrite '?' placeholders to PostgreSQL's $1, $2, ...; no statement here has '?' in a literal."""
    counter = iter(range(1, 10_000))
    return _PLACEHOLDER.sub(lambda _: f"${next(counter)}", sql)
