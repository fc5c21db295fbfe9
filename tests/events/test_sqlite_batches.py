"""Tests of the SQLite store's multi-row inserts: row order, chunk edges, and a rejected batch leaving nothing behind."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from proxy.events import Event, SqliteStore
from proxy.events.queries import INSERT_CHUNK_ROWS, chunked_parameters, insert_rows, records
from proxy.events.store import BatchRejectedError


def events(count: int) -> list[Event]:
    # Times run backwards, so only the insertion order can put the ids in batch order.
    return [Event(time=10_000.0 - index, app="erp", visitor=f"v{index}", kind="feature", name="export") for index in range(count)]


@pytest.mark.parametrize(
    "count",
    [
        pytest.param(1, id="one"),
        pytest.param(INSERT_CHUNK_ROWS - 1, id="chunk-minus-one"),
        pytest.param(INSERT_CHUNK_ROWS, id="one-chunk"),
        pytest.param(INSERT_CHUNK_ROWS + 1, id="chunk-plus-one"),
        pytest.param(3 * INSERT_CHUNK_ROWS + 5, id="several-chunks"),
    ],
)
async def test_sqlite_batch_in_order(tmp_path: Path, count: int) -> None:
    store = SqliteStore(tmp_path / "events.sqlite3")
    await store.open()
    try:
        await store.write(events(count))
    finally:
        await store.close()
    connection = sqlite3.connect(tmp_path / "events.sqlite3")
    try:
        visitors = [row[0] for row in connection.execute("SELECT visitor FROM events ORDER BY id")]
    finally:
        connection.close()
    assert visitors == [f"v{index}" for index in range(count)]


async def test_sqlite_batch_rejected_whole(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "events.sqlite3")
    await store.open()
    try:
        # A trigger refuses the 71st row, in the second chunk of the batch, as a broken constraint would.
        other = sqlite3.connect(tmp_path / "events.sqlite3")
        try:
            other.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.visitor = 'v70' BEGIN SELECT RAISE(FAIL, 'refused'); END"
            )
            other.commit()
        finally:
            other.close()
        with pytest.raises(BatchRejectedError, match="SQLite rejected a batch of 100 events: refused"):
            await store.write(events(100))
        await store.write(events(2))
        assert await store.count() == 2
    finally:
        await store.close()


def test_chunked_parameters_flat() -> None:
    rows = records(events(3))
    assert chunked_parameters(rows, 2) == [rows[0] + rows[1], rows[2]]


def test_insert_rows_placeholders() -> None:
    statement = insert_rows(2)
    assert statement.startswith("INSERT OR FAIL INTO events (time, app, visitor, session, roles, kind, name, step, outcome, status, duration, detail) VALUES ")
    assert statement.count("?") == 24
