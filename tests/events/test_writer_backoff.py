"""The event writer's retries while the store is down: the backoff, its cap, the logs and the metrics."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from proxy.config.storage import StorageConfig
from proxy.events import Event, EventWriter, SqliteStore, StoreUnavailableError
from proxy.events.metrics import EventStoreOutageCollector
from proxy.events.writer import next_retry_delay


def delays(first: float, maximum: float, attempts: int) -> list[float]:
    """The waits after `attempts` failed attempts in a row."""
    waits: list[float] = []
    previous = None
    for _ in range(attempts):
        previous = next_retry_delay(previous, first, maximum)
        waits.append(previous)
    return waits


@pytest.mark.parametrize(
    ("first", "maximum", "attempts", "expected"),
    [
        pytest.param(0.5, 30.0, 8, [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0], id="defaults"),
        pytest.param(0.1, 2.0, 7, [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0], id="small-cap"),
        pytest.param(5.0, 1.0, 3, [1.0, 1.0, 1.0], id="first-above-cap"),
        pytest.param(1.0, 1.0, 2, [1.0, 1.0], id="first-at-cap"),
    ],
)
def test_next_retry_delay(first: float, maximum: float, attempts: int, expected: list[float]) -> None:
    assert delays(first, maximum, attempts) == expected


def test_next_retry_delay_long_outage() -> None:
    # Raising 2 to the number of attempts overflowed a float after about 1,025 attempts.
    assert delays(0.001, 1.0, 5000)[-1] == 1.0


class SwitchableStore(SqliteStore):
    """A SQLite store whose writes fail as an unreachable server's would while `down` is set."""

    down = False
    failed_writes = 0

    async def write(self, batch: Sequence[Event]) -> None:
        if self.down:
            self.failed_writes += 1
            raise StoreUnavailableError(f"cannot write to {self.description}: connection refused")
        await super().write(batch)


def outage_metrics(writer: EventWriter) -> list[str]:
    registry = CollectorRegistry()
    registry.register(EventStoreOutageCollector(writer))
    text = generate_latest(registry).decode()
    return [line for line in text.splitlines() if not line.startswith("#")]


async def test_writer_outage_backoff_logs_metrics(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = SwitchableStore(tmp_path / "events.sqlite3")
    config = StorageConfig(batch_size=10, flush_interval=0.01, retry_delay=0.01, retry_max_delay=0.04)
    writer = EventWriter(store, config, clock=lambda: 1000.0)
    await writer.start()
    caplog.set_level(logging.INFO, logger="proxy.events.writer")
    event = Event(time=time.time(), app="erp", visitor="v1", kind="feature", name="export")

    store.down = True
    for _ in range(25):
        assert writer.submit(event)
    deadline = time.monotonic() + 10
    while writer.stats().failed_attempts < 12 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    during = writer.stats()
    metrics = outage_metrics(writer)

    store.down = False
    assert await writer.flush(timeout=5)
    after = writer.stats()
    await writer.close()

    assert during.failed_attempts >= 12
    assert during.store_available is False
    assert during.down_since == 1000.0
    assert during.retry_delay == 0.04
    assert during.written == 0
    assert metrics == [
        f"guidegate_event_store_failed_attempts {float(during.failed_attempts)}",
        "guidegate_event_store_down_since_timestamp_seconds 1000.0",
        "guidegate_event_store_retry_delay_seconds 0.04",
    ]
    assert (after.written, after.failed_attempts, after.down_since, after.retry_delay) == (25, 0, None, 0.0)
    assert after.store_available is True
    assert outage_metrics(writer) == [
        "guidegate_event_store_failed_attempts 0.0",
        "guidegate_event_store_down_since_timestamp_seconds 0.0",
        "guidegate_event_store_retry_delay_seconds 0.0",
    ]

    where = store.description
    messages = [record.getMessage() for record in caplog.records]
    error = f"cannot write to {where}: connection refused"
    assert messages[0] == f"event store {where}: write failed (attempt 1, 25 events waiting), retrying in 0.01s: {error}"
    assert messages[1] == (
        f"event store {where}: write failed (attempt 3, down 0.0s, 25 events waiting), retrying every 0.04s from now on: {error}"
    )
    assert messages[2] == (
        f"event store {where}: write failed (attempt 10, down 0.0s, 25 events waiting), retrying in 0.04s: {error}"
    )
    recovered = [message for message in messages if "available again" in message]
    assert recovered == [
        f"event store {where} available again after {store.failed_writes} failed attempts and 0.0s down; 15 events waiting"
    ]
