"""The event writer: a bounded in-memory queue drained in batches to the store, off the request path."""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from proxy.config.storage import StorageConfig
from proxy.events.model import Entry
from proxy.events.retention import Retention
from proxy.events.store import BatchRejectedError, EventStore, StoreError
from proxy.tasks import BackgroundTasks

logger = logging.getLogger(__name__)

REPEAT_LOG_EVERY = 10
"""While the store stays down, one warning per this many failed attempts.

The first failed attempt and the one whose retry delay first reaches `retry_max_delay` are always
logged as well.
"""


def next_retry_delay(previous: float | None, first: float, maximum: float) -> float:
    """Return the wait before the next attempt after a failed one: `first` after the first
    failure (`previous` None), then twice the previous wait, never more than `maximum`.

    Doubling the previous wait, rather than raising 2 to the number of attempts, keeps the value
    finite however long the store stays down.
    """
    if previous is None:
        return min(first, maximum)
    return min(previous * 2, maximum)


@dataclass(frozen=True)
class WriterStats:
    """A snapshot of the writer's counters, for metrics and health pages."""

    queued: int
    """Events waiting in the queue."""
    pending: int
    """Events taken from the queue whose write has not succeeded yet (being written or retried)."""
    accepted: int
    written: int
    dropped_queue_full: int
    dropped_rejected: int
    """Events of batches the store refused as invalid; retrying those cannot succeed."""
    dropped_shutdown: int
    """Events still unwritten when `close` ran out of time, or submitted after it."""
    write_errors: int
    """Failed attempts to open the store or write a batch."""
    store_available: bool
    last_error: str | None
    last_error_time: float | None
    retention_deleted: int
    retention_errors: int
    failed_attempts: int = 0
    """Failed attempts in a row since the store last worked, or 0 while it works."""
    down_since: float | None = None
    """Unix time (by the writer's clock) of the first of those failed attempts, or None while the store works."""
    retry_delay: float = 0.0
    """Seconds the writer waits after the last failed attempt before the next, or 0 while the store works."""


class EventWriter:
    """Accepts events without blocking and writes them in batches to an EventStore.

    `submit` appends an event to a bounded queue and returns at once: a full queue drops the
    event and counts it. A background task takes up to `batch_size` events, waiting at most
    `flush_interval` for a batch to fill, and writes them in one transaction. When the store is
    down the batch is kept and retried with exponential backoff (from `retry_delay`, doubling, at
    most `retry_max_delay`, for as long as the outage lasts) while new events wait in the queue,
    so an outage loses only what overflows the queue. The writer also opens the store (retrying
    the same way) and, once it is open, runs the retention task. Use it from one event loop;
    `submit` is not thread-safe.
    """

    def __init__(self, store: EventStore, config: StorageConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self._config = config
        # A deque, not an asyncio.Queue: `submit` runs once per captured request, and only this
        # writer's task takes events out, so the queue needs no getters, putters or task counting.
        self._queue: collections.deque[Entry] = collections.deque()
        self._queue_size = config.queue_size
        self._batch_size = config.batch_size
        self._wake = asyncio.Event()
        self._full = asyncio.Event()
        self._tasks = BackgroundTasks()
        self._runner: asyncio.Task[None] | None = None
        self._retention = Retention(store, config.retention_days, config.retention_interval, clock=clock)
        self._retention_started = False
        self._batch: list[Entry] = []
        self._closing = False
        self._closed = False
        self._store_open = False
        self._failures = 0
        self._down_since: float | None = None
        self._delay: float | None = None
        self._accepted = 0
        self._written = 0
        self._dropped_full = 0
        self._dropped_rejected = 0
        self._dropped_shutdown = 0
        self._write_errors = 0
        self._last_error: str | None = None
        self._last_error_time: float | None = None
        self._clock = clock

    async def start(self) -> None:
        """Start the background writer; it opens the store, retrying while the store is down."""
        if self._runner is not None:
            return
        self._runner = self._tasks.spawn(f"event-writer {self.store.description}", self._run())
        logger.info(
            "event writer started for %s (queue %d, batch %d, flush every %gs)",
            self.store.description,
            self._config.queue_size,
            self._config.batch_size,
            self._config.flush_interval,
        )

    def submit(self, event: Entry) -> bool:
        """Queue an event, as an Event or its Record; return False (and count it) when the queue is full
        or the writer closed.

        Never blocks and never raises.
        """
        try:
            if self._closing:
                self._dropped_shutdown += 1
                return False
            queue = self._queue
            if len(queue) >= self._queue_size:
                self._dropped_full += 1
                return False
            queue.append(event)
            self._accepted += 1
            if not self._wake.is_set():
                self._wake.set()
            if len(queue) >= self._batch_size and not self._full.is_set():
                self._full.set()
            return True
        except Exception:  # noqa: BLE001 - the request path must never see an exception from here
            logger.exception("event submit failed unexpectedly; event dropped")
            self._dropped_full += 1
            return False

    @property
    def queued(self) -> int:
        """Events waiting in the queue (cheaper than `stats()` for a producer that paces itself)."""
        return len(self._queue)

    async def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every accepted event is written; return False if `timeout` passed first."""
        deadline = time.monotonic() + timeout
        while self._queue or self._batch:
            if time.monotonic() >= deadline:
                return False
            self._full.set()
            await asyncio.sleep(0.005)
        return True

    async def close(self, timeout: float = 10.0) -> None:
        """Write everything accepted, within `timeout` seconds, then stop the tasks and close the store.

        Events still unwritten when the time is up (the store being down) are counted as dropped.
        """
        if self._closed:
            return
        self._closing = True
        self._wake.set()
        self._full.set()
        if self._runner is not None:
            await asyncio.wait({self._runner}, timeout=timeout)
        lost = len(self._queue) + len(self._batch)
        if lost:
            self._dropped_shutdown += lost
            logger.error(
                "event writer stopped with %d events unwritten to %s (last error: %s)",
                lost,
                self.store.description,
                self._last_error,
            )
        await self._tasks.close()
        try:
            await self.store.close()
        except Exception:  # noqa: BLE001 - shutdown goes on whatever the store says
            logger.exception("closing event store %s failed", self.store.description)
        self._closed = True
        logger.info("event writer stopped: %d written, %d dropped", self._written, self._dropped_total())

    def stats(self) -> WriterStats:
        """Return the current counters."""
        return WriterStats(
            queued=len(self._queue),
            pending=len(self._batch),
            accepted=self._accepted,
            written=self._written,
            dropped_queue_full=self._dropped_full,
            dropped_rejected=self._dropped_rejected,
            dropped_shutdown=self._dropped_shutdown,
            write_errors=self._write_errors,
            store_available=self._store_open and self._failures == 0,
            last_error=self._last_error,
            last_error_time=self._last_error_time,
            retention_deleted=self._retention.deleted,
            retention_errors=self._retention.errors,
            failed_attempts=self._failures,
            down_since=self._down_since,
            retry_delay=self._delay or 0.0,
        )

    def _dropped_total(self) -> int:
        return self._dropped_full + self._dropped_rejected + self._dropped_shutdown

    async def _run(self) -> None:
        while True:
            if not self._store_open:
                if self._closing and not self._queue:
                    return
                await self._open_store()
                continue
            if not self._batch:
                batch = await self._collect()
                if batch is None:
                    return
                self._batch = batch
            await self._write_batch()

    async def _open_store(self) -> None:
        try:
            await self.store.open()
        except Exception as error:  # noqa: BLE001 - any failure to open is retried; StoreError is the usual one
            await self._failed("open", error)
            return
        self._store_open = True
        self._recovered()
        if not self._retention_started:
            self._retention_started = True
            self._tasks.spawn(f"event-retention {self.store.description}", self._retention.run())

    async def _collect(self) -> list[Entry] | None:
        """Wait for events and take up to batch_size of them; None when closing with nothing left."""
        while not self._queue:
            if self._closing:
                return None
            self._wake.clear()
            await self._wake.wait()
        if not self._closing and len(self._queue) < self._batch_size:
            self._full.clear()
            try:
                await asyncio.wait_for(self._full.wait(), self._config.flush_interval)
            except asyncio.TimeoutError:
                pass
        queue = self._queue
        if len(queue) <= self._batch_size:
            batch = list(queue)
            queue.clear()
            return batch
        return [queue.popleft() for _ in range(self._batch_size)]

    async def _write_batch(self) -> None:
        try:
            await self.store.write(self._batch)
        except BatchRejectedError as error:
            self._dropped_rejected += len(self._batch)
            self._note_error(error)
            logger.error("event store %s rejected %d events; dropped: %s", self.store.description, len(self._batch), error)
            self._batch = []
            return
        except StoreError as error:
            await self._failed("write", error)
            return
        except Exception as error:  # noqa: BLE001 - a store bug must not stop the writer or loop on one batch
            self._dropped_rejected += len(self._batch)
            self._note_error(error)
            logger.exception("writing %d events to %s failed unexpectedly; dropped", len(self._batch), self.store.description)
            self._batch = []
            return
        self._written += len(self._batch)
        self._batch = []
        self._recovered()

    def _note_error(self, error: BaseException) -> None:
        self._write_errors += 1
        self._last_error = str(error)
        self._last_error_time = self._clock()

    async def _failed(self, action: str, error: Exception) -> None:
        """Count and log a failed attempt, then sleep the backoff delay."""
        self._failures += 1
        self._note_error(error)
        if self._down_since is None:
            self._down_since = self._clock()
        previous = self._delay
        self._delay = next_retry_delay(previous, self._config.retry_delay, self._config.retry_max_delay)
        waiting = len(self._queue) + len(self._batch)
        if self._failures == 1:
            logger.warning(
                "event store %s: %s failed (attempt 1, %d events waiting), retrying in %gs: %s",
                self.store.description,
                action,
                waiting,
                self._delay,
                error,
            )
        elif self._delay == self._config.retry_max_delay and previous != self._delay:
            logger.warning(
                "event store %s: %s failed (attempt %d, down %.1fs, %d events waiting), "
                "retrying every %gs from now on: %s",
                self.store.description,
                action,
                self._failures,
                self._clock() - self._down_since,
                waiting,
                self._delay,
                error,
            )
        elif self._failures % REPEAT_LOG_EVERY == 0:
            logger.warning(
                "event store %s: %s failed (attempt %d, down %.1fs, %d events waiting), retrying in %gs: %s",
                self.store.description,
                action,
                self._failures,
                self._clock() - self._down_since,
                waiting,
                self._delay,
                error,
            )
        await asyncio.sleep(self._delay)

    def _recovered(self) -> None:
        if self._failures:
            down = self._clock() - self._down_since if self._down_since is not None else 0.0
            logger.info(
                "event store %s available again after %d failed attempts and %.1fs down; %d events waiting",
                self.store.description,
                self._failures,
                down,
                len(self._queue) + len(self._batch),
            )
            self._failures = 0
        self._down_since = None
        self._delay = None
