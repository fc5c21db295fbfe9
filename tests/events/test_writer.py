"""Tests of the event writer: dropping when full, surviving store outages, flushing on close, retention, metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from conftest_pg import PostgresCluster
from prometheus_client import CollectorRegistry, generate_latest

from proxy.config.storage import StorageConfig
from proxy.events import BatchRejectedError, Event, EventWriter, PostgresStore, SqliteStore
from proxy.events.metrics import EventWriterCollector
from proxy.events.retention import DAY, Retention

FAST = StorageConfig(queue_size=1000, batch_size=50, flush_interval=0.01, retry_delay=0.01, retry_max_delay=0.05)


NOW = time.time()


def events(count: int, start: float = NOW - 3600, visitor: str = "v1") -> list[Event]:
    """Recent events (older ones would be deleted by the retention the writer runs)."""
    return [Event(time=start + index, app="erp", visitor=visitor, kind="feature", name="export") for index in range(count)]


async def wait_for(condition: object, timeout: float = 10.0) -> None:
    """Poll a zero-argument callable until it returns true, failing the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail("condition not reached in time")
        await asyncio.sleep(0.01)


async def test_writer_full_queue_drops_and_counts(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "events.sqlite3")
    writer = EventWriter(store, StorageConfig(queue_size=3, batch_size=10, flush_interval=0.01))
    accepted = [writer.submit(item) for item in events(5)]
    assert accepted == [True, True, True, False, False]
    stats = writer.stats()
    assert (stats.queued, stats.accepted, stats.dropped_queue_full) == (3, 3, 2)

    await writer.start()
    assert await writer.flush()
    await store.open()
    assert await store.count() == 3
    assert writer.stats().written == 3
    await writer.close()


async def test_writer_close_flushes_everything(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "events.sqlite3")
    writer = EventWriter(store, StorageConfig(queue_size=5000, batch_size=100, flush_interval=5.0))
    await writer.start()
    for item in events(1234):
        assert writer.submit(item)
    await writer.close(timeout=10)

    stats = writer.stats()
    assert (stats.written, stats.queued, stats.pending, stats.dropped_shutdown) == (1234, 0, 0, 0)
    reopened = SqliteStore(tmp_path / "events.sqlite3")
    await reopened.open()
    try:
        assert await reopened.count() == 1234
    finally:
        await reopened.close()


async def test_writer_submit_after_close(tmp_path: Path) -> None:
    writer = EventWriter(SqliteStore(tmp_path / "events.sqlite3"), FAST)
    await writer.start()
    await writer.close()
    assert writer.submit(events(1)[0]) is False
    assert writer.stats().dropped_shutdown == 1


async def test_writer_waits_for_unwritable_sqlite(tmp_path: Path) -> None:
    blocker = tmp_path / "var"
    blocker.write_text("a file where the database folder should be")
    store = SqliteStore(blocker / "events.sqlite3")
    writer = EventWriter(store, FAST)
    await writer.start()
    for item in events(300):
        assert writer.submit(item)
    await wait_for(lambda: writer.stats().write_errors >= 3)
    stats = writer.stats()
    assert stats.store_available is False
    assert stats.last_error is not None
    assert stats.last_error.startswith(f"cannot open the SQLite event database {blocker / 'events.sqlite3'}")

    blocker.unlink()
    assert await writer.flush()
    assert writer.stats().written == 300
    assert writer.stats().store_available is True
    assert await store.count() == 300
    await writer.close()


async def test_writer_close_gives_up_on_down_store(tmp_path: Path) -> None:
    blocker = tmp_path / "var"
    blocker.write_text("not a folder")
    writer = EventWriter(SqliteStore(blocker / "events.sqlite3"), FAST)
    await writer.start()
    for item in events(20):
        writer.submit(item)
    started = time.monotonic()
    await writer.close(timeout=0.2)
    assert time.monotonic() - started < 2
    stats = writer.stats()
    assert (stats.written, stats.dropped_shutdown) == (0, 20)


class RejectingStore(SqliteStore):
    """A SQLite store that refuses batches holding an event of visitor 'bad', as a broken constraint would."""

    async def write(self, batch: Sequence[Event]) -> None:
        if any(item.visitor == "bad" for item in batch):
            raise BatchRejectedError("constraint failed")
        await super().write(batch)


async def test_writer_drops_rejected_batch(tmp_path: Path) -> None:
    store = RejectingStore(tmp_path / "events.sqlite3")
    writer = EventWriter(store, StorageConfig(batch_size=10, flush_interval=0.01))
    await writer.start()
    for item in events(3, visitor="bad"):
        writer.submit(item)
    assert await writer.flush()
    for item in events(4, start=NOW - 1800):
        writer.submit(item)
    assert await writer.flush()
    stats = writer.stats()
    assert (stats.written, stats.dropped_rejected, stats.write_errors) == (4, 3, 1)
    assert stats.last_error == "constraint failed"
    await writer.close()


@pytest.mark.postgres
async def test_writer_survives_postgres_restart(postgres_cluster: PostgresCluster, postgres_dsn: str) -> None:
    store = PostgresStore(postgres_dsn, connect_timeout=1)
    writer = EventWriter(store, FAST)
    await writer.start()
    for item in events(100):
        writer.submit(item)
    assert await writer.flush()

    postgres_cluster.stop()
    try:
        for item in events(400, start=NOW - 1800):
            assert writer.submit(item)
        await wait_for(lambda: writer.stats().write_errors >= 2)
        assert writer.stats().written == 100
    finally:
        postgres_cluster.start()
    assert await writer.flush(timeout=20)
    await writer.close()

    check = PostgresStore(postgres_dsn)
    await check.open()
    try:
        assert await check.count() == 500
    finally:
        await check.close()


@pytest.mark.postgres
async def test_two_writers_share_postgres(postgres_dsn: str) -> None:
    stores = [PostgresStore(postgres_dsn), PostgresStore(postgres_dsn)]
    writers = [EventWriter(store, StorageConfig(batch_size=100, flush_interval=0.01)) for store in stores]
    await asyncio.gather(*(writer.start() for writer in writers))
    for index in range(2000):
        for number, writer in enumerate(writers):
            item = Event(time=NOW + index, app="erp", visitor=f"instance{number}", kind="feature", name="export")
            assert writer.submit(item)
        if index % 100 == 0:
            await asyncio.sleep(0)
    await asyncio.gather(*(writer.close() for writer in writers))

    check = PostgresStore(postgres_dsn)
    await check.open()
    try:
        assert await check.count() == 4000
        stored = await check.read_events("erp", 0, NOW + 10_000)
        assert sorted((item.visitor, item.time) for item in stored) == sorted(
            (f"instance{number}", NOW + index) for number in range(2) for index in range(2000)
        )
    finally:
        await check.close()


async def test_retention_deletes_old_events(tmp_path: Path) -> None:
    now = 100 * DAY
    store = SqliteStore(tmp_path / "events.sqlite3")
    await store.open()
    try:
        await store.write(events(3, start=now - 31 * DAY) + events(2, start=now - 29 * DAY))
        retention = Retention(store, days=30, interval=3600, clock=lambda: now)
        assert await retention.run_once() == 3
        assert await store.count() == 2
        assert retention.deleted == 3
    finally:
        await store.close()


async def test_writer_runs_retention(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite3"
    seed = SqliteStore(path)
    await seed.open()
    await seed.write(events(5, start=NOW - 400 * DAY) + events(1))
    await seed.close()

    store = SqliteStore(path)
    writer = EventWriter(store, StorageConfig(retention_days=365, retention_interval=3600))
    await writer.start()
    await wait_for(lambda: writer.stats().retention_deleted == 5)
    assert await store.count() == 1
    await writer.close()


async def test_writer_metrics(tmp_path: Path) -> None:
    writer = EventWriter(SqliteStore(tmp_path / "events.sqlite3"), StorageConfig(queue_size=2, flush_interval=0.01))
    registry = CollectorRegistry()
    registry.register(EventWriterCollector(writer))
    for item in events(3):
        writer.submit(item)
    await writer.start()
    assert await writer.flush()
    text = generate_latest(registry).decode()
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines == [
        "guidegate_events_queued 0.0",
        "guidegate_events_accepted_total 2.0",
        "guidegate_events_written_total 2.0",
        'guidegate_events_dropped_total{reason="queue_full"} 1.0',
        'guidegate_events_dropped_total{reason="rejected"} 0.0',
        'guidegate_events_dropped_total{reason="shutdown"} 0.0',
        "guidegate_event_store_errors_total 0.0",
        "guidegate_event_store_up 1.0",
        "guidegate_event_store_last_error_timestamp_seconds 0.0",
        "guidegate_events_deleted_total 0.0",
    ]
    await writer.close()
