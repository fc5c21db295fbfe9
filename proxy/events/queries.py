"""SQL shared by the SQLite and PostgreSQL stores, written once with '?' placeholders.

Both backends run the same statements, so the reports read the same rows from either. The
PostgreSQL store rewrites the placeholders to $1, $2, ... with `numbered`.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from proxy.events.model import Entry, Event, Record, decode_roles, encode_roles
from proxy.events.store import (
    OUTCOME_ABANDON,
    OUTCOME_CODES,
    OUTCOME_FAILURE,
    OUTCOME_PASS,
    STEP_KEY_SEPARATOR,
    NameCountRow,
    StepCoding,
)

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

CASE_LEAF_SIZE = 8
"""Most values compared one after the other in one CASE. Longer lists are split on `<` into a binary search."""

Fragment = tuple[str, tuple[str, ...]]
"""SQL text with '?' placeholders, and the values of those placeholders in order."""


def coded_step_rows(coding: StepCoding) -> Fragment:
    """Select (time, visitor, code) of workflow steps, coded as StepCoding describes and ordered as STEP_ROWS.

    Workflow ids and step ids go in as parameters, never into the SQL text. The placeholders of
    the code come before app, since and until.
    """
    workflows: list[tuple[str, Fragment]] = []
    slot = 0
    for name, steps in coding.workflows:
        step_slots = [(step, (str(slot + index), ())) for index, step in enumerate(steps)]
        slot += len(steps)
        workflows.append((name, _lookup("step", sorted(step_slots, key=_value), (str(slot), ()))))
        slot += 1
    slot_sql, parameters = _lookup("name", sorted(workflows, key=_value), (str(slot), ()))
    outcome_sql = (
        f"CASE outcome WHEN 'failure' THEN {OUTCOME_FAILURE} WHEN 'abandon' THEN {OUTCOME_ABANDON} "
        f"ELSE {OUTCOME_PASS} END"
    )
    sql = (
        f"SELECT time, visitor, ({slot_sql}) * {OUTCOME_CODES} + {outcome_sql} FROM events "
        "WHERE app = ? AND kind = 'workflow_step' AND time >= ? AND time < ? "
        "AND name IS NOT NULL AND step IS NOT NULL ORDER BY time, id"
    )
    return sql, parameters


def _value(branch: tuple[str, Fragment]) -> str:
    return branch[0]


def _lookup(column: str, branches: Sequence[tuple[str, Fragment]], otherwise: Fragment) -> Fragment:
    """Return a CASE expression that yields the fragment paired with the column's value, else `otherwise`.

    `branches` must be sorted by value. Python orders strings by code point, which is the byte order
    of their UTF-8 that SQLite (BINARY) and PostgreSQL (COLLATE "C" columns) use for `<`.
    """
    if not branches:
        return otherwise
    if len(branches) <= CASE_LEAF_SIZE:
        text = [f"CASE {column}"]
        parameters: list[str] = []
        for value, (then_sql, then_parameters) in branches:
            text.append(f"WHEN ? THEN {then_sql}")
            parameters += (value, *then_parameters)
        text.append(f"ELSE {otherwise[0]} END")
        parameters += otherwise[1]
        return " ".join(text), tuple(parameters)
    middle = len(branches) // 2
    low_sql, low_parameters = _lookup(column, branches[:middle], otherwise)
    high_sql, high_parameters = _lookup(column, branches[middle:], otherwise)
    return (
        f"CASE WHEN {column} < ? THEN {low_sql} ELSE {high_sql} END",
        (branches[middle][0], *low_parameters, *high_parameters),
    )


# events_visitor_roles (app, visitor, roles, time) lets the grouping stream from the index.
VISITOR_ROLES = "SELECT visitor, roles FROM events WHERE app = ? AND time >= ? AND time < ? GROUP BY visitor, roles"

COUNT_ALL = "SELECT COUNT(*) FROM events"
COUNT_APP = "SELECT COUNT(*) FROM events WHERE app = ?"

DELETE_CHUNK = "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE time < ? ORDER BY time LIMIT ?)"
DELETE_CHUNK_SIZE = 10_000
"""Rows deleted per statement, so retention never holds the write lock for long."""


NAME_COUNT_SEPARATOR = "\x1e"
"""Separator of the visitors in a row of `name_counts`. Event rejects control characters, so no id contains it."""


def name_counts(kind_count: int, aggregate: str) -> str:
    """Count events per (kind, name, visitor) for `kind_count` kinds, in one row per (kind, name).

    A row is (kind, name, text), the text joining `visitor STEP_KEY_SEPARATOR count` of each
    visitor with NAME_COUNT_SEPARATOR. `decode_name_counts` turns the rows back into one tuple per
    visitor. The thread that reads the rows takes the GIL for each one, while the report reads
    the step stream in another thread. With one row per visitor (48,000 in bench/bench_events.py)
    the two threads handed the GIL back and forth so often that the whole report took 1.26 s
    instead of 1.18 s (medians of 8 on 2 shared cores). `aggregate` is the backend's string
    aggregate function: group_concat on SQLite, string_agg on PostgreSQL. The inner grouping runs
    in the order of events_name_visitor.
    """
    kinds = ", ".join("?" for _ in range(kind_count))
    return (
        f"SELECT kind, name, {aggregate}(visitor || '{STEP_KEY_SEPARATOR}' || events, '{NAME_COUNT_SEPARATOR}') "
        "FROM (SELECT kind, name, visitor, COUNT(*) AS events FROM events "
        f"WHERE app = ? AND kind IN ({kinds}) AND time >= ? AND time < ? AND name IS NOT NULL "
        "GROUP BY kind, name, visitor) AS counted GROUP BY kind, name"
    )


def decode_name_counts(rows: Iterable[Sequence[Any]]) -> list[NameCountRow]:
    """Return one (kind, name, visitor, count) tuple per visitor of the rows of `name_counts`."""
    decoded: list[NameCountRow] = []
    for kind, name, text in rows:
        for item in text.split(NAME_COUNT_SEPARATOR):
            visitor, _, count = item.rpartition(STEP_KEY_SEPARATOR)
            decoded.append((kind, name, visitor, int(count)))
    return decoded


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


def records(batch: Sequence[Entry]) -> list[Record]:
    """Return the column values of every event in the batch; a Record is taken as it is."""
    return [entry if type(entry) is tuple else record(entry) for entry in batch]  # type: ignore[arg-type]


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
