"""Tests of the SQLite and PostgreSQL stores: migrations, writes, queries and deletion, same results on both."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import asyncpg
import pytest

from proxy.config.storage import StorageConfig
from proxy.events import (
    Event,
    EventStore,
    PostgresStore,
    SchemaTooNewError,
    SqliteStore,
    StoreError,
    StoreUnavailableError,
    create_store,
)
from proxy.events.migrations import LATEST_VERSION
from proxy.events.postgres import redact
from proxy.events.store import STEP_KEY_SEPARATOR as SEP


def event(time: float, visitor: str = "v1", kind: str = "feature", **fields: object) -> Event:
    return Event(time=time, app=fields.pop("app", "erp"), visitor=visitor, kind=kind, **fields)  # type: ignore[arg-type]


FULL = Event(
    time=1000.25,
    app="erp",
    visitor="v1",
    session="s1",
    roles=("manager", "clerk"),
    kind="workflow_step",
    name="purchase_order",
    step="submit",
    outcome="failure",
    status=422,
    duration=12.5,
    detail={"fields": ["amount", "supplier"], "über": "ß"},
)
BARE = Event(time=1001, app="erp", visitor="v2", kind="help_opened")


async def test_store_round_trip(store: EventStore) -> None:
    await store.write([FULL, BARE, event(999, app="crm")])
    assert await store.read_events("erp", 0, 2000) == [FULL, BARE]
    assert await store.count() == 3
    assert await store.count("erp") == 2


async def test_store_schema_version(store: EventStore) -> None:
    assert await store.schema_version() == LATEST_VERSION


async def test_store_reopen_is_idempotent(store: EventStore) -> None:
    await store.write([FULL])
    await store.close()
    await store.open()
    await store.open()
    assert await store.schema_version() == LATEST_VERSION
    assert await store.count() == 1


async def test_store_versions_recorded_once(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite3"
    for _ in range(2):
        store = SqliteStore(path)
        await store.open()
        await store.close()
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT version, description FROM schema_version").fetchall()
    assert rows == [(1, "events table and the indexes of the reports")]


async def test_sqlite_creates_folder_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "events.sqlite3"
    store = SqliteStore(path)
    await store.open()
    await store.close()
    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_sqlite_schema_too_new(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite3"
    store = SqliteStore(path)
    await store.open()
    await store.close()
    with sqlite3.connect(path) as connection:
        connection.execute("INSERT INTO schema_version VALUES (99, 'future', 0)")
    with pytest.raises(SchemaTooNewError) as caught:
        await store.open()
    assert str(caught.value) == (
        f"event database {path} has schema version 99, newer than the 1 this Guidegate knows; run the "
        "Guidegate release that created it, or point storage at another database"
    )


async def test_sqlite_unwritable_path(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    store = SqliteStore(blocker / "events.sqlite3")
    with pytest.raises(StoreUnavailableError) as caught:
        await store.open()
    assert str(caught.value).startswith(f"cannot open the SQLite event database {blocker / 'events.sqlite3'}: ")
    assert str(caught.value).endswith("; expected a writable folder for storage.path")


async def test_store_write_when_closed(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "events.sqlite3")
    with pytest.raises(StoreUnavailableError) as caught:
        await store.write([FULL])
    assert str(caught.value) == f"event store sqlite:{tmp_path / 'events.sqlite3'} is not open"


async def test_store_delete_older_than(store: EventStore) -> None:
    await store.write([event(100 + index) for index in range(10)])
    assert await store.delete_older_than(105) == 5
    assert [item.time for item in await store.read_events("erp", 0, 1000)] == [105, 106, 107, 108, 109]
    assert await store.delete_older_than(105) == 0


async def test_store_step_rows_in_order(store: EventStore) -> None:
    steps = [
        event(20, "v2", "workflow_step", name="po", step="open", outcome="success"),
        event(10, "v1", "workflow_step", name="po", step="open"),
        event(10, "v1", "workflow_step", name="po", step="items", outcome="failure"),
        event(15, "v1", "feature", name="export"),
        event(30, "v1", "workflow_step", name="po", step="submit", app="crm"),
        event(40, "v1", "workflow_step", name="po", step="submit"),
    ]
    await store.write(steps)
    pages = [page async for page in store.step_rows("erp", 10, 40, page_size=2)]
    assert pages == [
        [(10.0, "v1", f"po{SEP}open{SEP}"), (10.0, "v1", f"po{SEP}items{SEP}failure")],
        [(20.0, "v2", f"po{SEP}open{SEP}success")],
    ]


async def test_store_visitor_roles(store: EventStore) -> None:
    await store.write(
        [
            event(10, "v1", roles=("clerk",)),
            event(11, "v1", roles=("clerk",)),
            event(12, "v1", roles=("clerk", "manager")),
            event(13, "v2"),
            event(50, "v3", roles=("auditor",)),
        ]
    )
    assert sorted(await store.visitor_roles("erp", 10, 50)) == [
        ("v1", "|clerk|"),
        ("v1", "|clerk|manager|"),
        ("v2", ""),
    ]


async def test_store_name_counts(store: EventStore) -> None:
    await store.write(
        [
            event(10, "v1", name="export"),
            event(11, "v1", name="export"),
            event(12, "v2", name="export"),
            event(13, "v2", "guide_shown", name="tour"),
            event(14, "v2", "guide_dismissed", name="tour"),
            event(15, "v3", "help_opened"),
        ]
    )
    counts = await store.name_counts("erp", ["feature", "guide_shown"], 0, 100)
    assert sorted(counts) == [
        ("feature", "export", "v1", 2),
        ("feature", "export", "v2", 1),
        ("guide_shown", "tour", "v2", 1),
    ]


async def test_store_event_times(store: EventStore) -> None:
    await store.write([event(10, "v1", "help_opened"), event(11, "v2", "help_requested"), event(12, "v1", "search")])
    times = await store.event_times("erp", ["help_opened", "help_requested"], 0, 100)
    assert sorted(times) == [(10.0, "v1"), (11.0, "v2")]


@pytest.mark.postgres
async def test_postgres_concurrent_migration(postgres_dsn: str) -> None:
    stores = [PostgresStore(postgres_dsn) for _ in range(3)]
    await asyncio.gather(*(store.open() for store in stores))
    try:
        connection = await asyncpg.connect(postgres_dsn)
        try:
            assert await connection.fetchval("SELECT COUNT(*) FROM schema_version") == 1
        finally:
            await connection.close()
    finally:
        for store in stores:
            await store.close()


@pytest.mark.postgres
async def test_postgres_unreachable() -> None:
    store = PostgresStore("postgresql://guidegate:secret@127.0.0.1:9/events", connect_timeout=2)
    with pytest.raises(StoreUnavailableError) as caught:
        await store.open()
    assert str(caught.value).startswith("cannot connect to postgresql:postgresql://guidegate:***@127.0.0.1:9/events: ")


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        pytest.param("postgresql://u:pw@h/db", "postgresql://u:***@h/db", id="password"),
        pytest.param("postgresql://u@h:5432/db", "postgresql://u@h:5432/db", id="no-password"),
        pytest.param("postgresql://h/db", "postgresql://h/db", id="no-user"),
    ],
)
def test_redact(dsn: str, shown: str) -> None:
    assert redact(dsn) == shown


def test_create_store_sqlite_relative(tmp_path: Path) -> None:
    store = create_store(StorageConfig(path="var/events.sqlite3"), tmp_path)
    assert isinstance(store, SqliteStore)
    assert store.path == tmp_path / "var" / "events.sqlite3"


def test_create_store_postgres_needs_dsn(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as caught:
        create_store(StorageConfig(backend="postgresql"), tmp_path)
    assert str(caught.value) == (
        "storage.backend is 'postgresql' but storage.dsn is not set; "
        "expected a URL such as postgresql://guidegate@db.example.com/guidegate"
    )
