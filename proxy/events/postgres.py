"""The shared event store for several proxy instances: PostgreSQL through an asyncpg pool."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from proxy.events import queries
from proxy.events.migrations import CREATE_VERSION_TABLE, CURRENT_VERSION, RECORD_VERSION, pending
from proxy.events.model import Entry, Event
from proxy.events.store import (
    BatchRejectedError,
    CodedStepRow,
    NameCountRow,
    StepCoding,
    StepRow,
    StoreUnavailableError,
    TimeRow,
    VisitorRolesRow,
)

logger = logging.getLogger(__name__)

MIGRATION_LOCK = 0x6775_6964_6567_6174
"""Advisory lock key held while migrating, so instances starting together migrate one at a time."""

_UNAVAILABLE = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, asyncio.TimeoutError)
_REJECTED = (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError)
_PASSWORD = re.compile(r"(://[^:/@]*):[^@]*@")

_STEP_ROWS = queries.numbered(queries.STEP_ROWS)
_VISITOR_ROLES = queries.numbered(queries.VISITOR_ROLES)
_SELECT_EVENTS = queries.numbered(queries.SELECT_EVENTS)
_COUNT_APP = queries.numbered(queries.COUNT_APP)
_DELETE_CHUNK = queries.numbered(queries.DELETE_CHUNK)
_RECORD_VERSION = queries.numbered(RECORD_VERSION)


def redact(dsn: str) -> str:
    """Return the DSN without its password, for logs."""
    return _PASSWORD.sub(r"\1:***@", dsn)


class PostgresStore:
    """Events in a PostgreSQL database that any number of proxy instances share.

    Batches go in with COPY inside a transaction. A pool connection broken by a server restart is
    dropped by asyncpg when released, so the next call reconnects.
    """

    def __init__(self, dsn: str, *, pool_size: int = 4, connect_timeout: float = 5.0) -> None:
        self.description = f"postgresql:{redact(dsn)}"
        self._dsn = dsn
        self._pool_size = pool_size
        self._timeout = connect_timeout
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        """Create the pool and migrate the schema."""
        if self._pool is not None:
            return
        try:
            pool = await asyncpg.create_pool(
                self._dsn, min_size=1, max_size=self._pool_size, timeout=self._timeout
            )
        except _UNAVAILABLE as error:
            raise StoreUnavailableError(f"cannot connect to {self.description}: {error}") from error
        try:
            async with pool.acquire(timeout=self._timeout) as connection:
                await self._migrate(connection)
        except _UNAVAILABLE as error:
            await _close_pool(pool)
            raise StoreUnavailableError(f"cannot prepare {self.description}: {error}") from error
        except BaseException:
            await _close_pool(pool)
            raise
        self._pool = pool
        logger.info("event store opened: %s", self.description)

    async def _migrate(self, connection: PoolConnectionProxy[asyncpg.Record]) -> None:
        async with connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            await connection.execute(CREATE_VERSION_TABLE)
            current = int(await connection.fetchval(CURRENT_VERSION))
            for migration in pending(current, self.description):
                for statement in migration.postgresql:
                    await connection.execute(statement)
                await connection.execute(_RECORD_VERSION, migration.version, migration.description, time.time())
                logger.info("event database %s migrated to version %d", self.description, migration.version)

    async def close(self) -> None:
        """Close the pool; safe to call twice."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await _close_pool(pool)
            logger.info("event store closed: %s", self.description)

    def _open_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreUnavailableError(f"event store {self.description} is not open")
        return self._pool

    async def write(self, batch: Sequence[Entry]) -> None:
        """Copy the batch into the table in one transaction."""
        if not batch:
            return
        pool = self._open_pool()
        rows = queries.records(batch)
        try:
            async with pool.acquire(timeout=self._timeout) as connection:
                async with connection.transaction():
                    await connection.copy_records_to_table("events", records=rows, columns=queries.COLUMNS)
        except _REJECTED as error:
            raise BatchRejectedError(f"PostgreSQL rejected a batch of {len(batch)} events: {error}") from error
        except _UNAVAILABLE as error:
            raise StoreUnavailableError(f"cannot write to {self.description}: {error}") from error

    async def delete_older_than(self, cutoff: float) -> int:
        """Delete in chunks of DELETE_CHUNK_SIZE rows, one transaction each."""
        pool = self._open_pool()
        deleted = 0
        while True:
            try:
                async with pool.acquire(timeout=self._timeout) as connection:
                    status = await connection.execute(_DELETE_CHUNK, cutoff, queries.DELETE_CHUNK_SIZE)
            except _UNAVAILABLE as error:
                raise StoreUnavailableError(f"cannot delete old events from {self.description}: {error}") from error
            count = int(status.rsplit(" ", 1)[-1])
            deleted += count
            if count < queries.DELETE_CHUNK_SIZE:
                return deleted

    async def _fetch(self, sql: str, *arguments: Any) -> list[tuple[Any, ...]]:
        pool = self._open_pool()
        try:
            async with pool.acquire(timeout=self._timeout) as connection:
                records = await connection.fetch(sql, *arguments)
        except _UNAVAILABLE as error:
            raise StoreUnavailableError(f"cannot read events from {self.description}: {error}") from error
        return [tuple(record) for record in records]

    async def schema_version(self) -> int:
        """Return the highest applied migration."""
        rows = await self._fetch(CURRENT_VERSION)
        return int(rows[0][0])

    async def count(self, app: str | None = None) -> int:
        """Return the number of stored events, of one app or of all."""
        rows = await (self._fetch(queries.COUNT_ALL) if app is None else self._fetch(_COUNT_APP, app))
        return int(rows[0][0])

    async def read_events(self, app: str, since: float, until: float) -> list[Event]:
        """Return one app's events in the period, ordered by time then insertion."""
        rows = await self._fetch(_SELECT_EVENTS, app, since, until)
        return [queries.event_from_row(row) for row in rows]

    async def step_rows(
        self, app: str, since: float, until: float, page_size: int = 5000
    ) -> AsyncIterator[list[StepRow]]:
        """Yield workflow steps in pages from a server-side cursor, ordered by time then insertion."""
        pool = self._open_pool()
        try:
            async with pool.acquire(timeout=self._timeout) as connection:
                async with connection.transaction(readonly=True):
                    cursor = await connection.cursor(_STEP_ROWS, app, since, until)
                    while True:
                        page = await cursor.fetch(page_size)
                        if not page:
                            return
                        yield [(row[0], row[1], row[2]) for row in page]
        except _UNAVAILABLE as error:
            raise StoreUnavailableError(f"cannot read workflow steps from {self.description}: {error}") from error

    async def coded_step_rows(
        self, app: str, since: float, until: float, coding: StepCoding, page_size: int = 5000
    ) -> AsyncIterator[list[CodedStepRow]]:
        """Yield workflow steps coded by `coding` in pages from a server-side cursor, ordered by time then insertion."""
        sql, parameters = queries.coded_step_rows(coding)
        pool = self._open_pool()
        try:
            async with pool.acquire(timeout=self._timeout) as connection:
                async with connection.transaction(readonly=True):
                    cursor = await connection.cursor(queries.numbered(sql), *parameters, app, since, until)
                    while True:
                        page = await cursor.fetch(page_size)
                        if not page:
                            return
                        yield [(row[0], row[1], row[2]) for row in page]
        except _UNAVAILABLE as error:
            raise StoreUnavailableError(f"cannot read workflow steps from {self.description}: {error}") from error

    async def visitor_roles(self, app: str, since: float, until: float) -> list[VisitorRolesRow]:
        """Return each distinct (visitor, roles) pair among the app's events in the period."""
        return [(row[0], row[1]) for row in await self._fetch(_VISITOR_ROLES, app, since, until)]

    async def name_counts(
        self, app: str, kinds: Sequence[str], since: float, until: float
    ) -> list[NameCountRow]:
        """Return event counts per (kind, name, visitor) for events of the given kinds."""
        sql = queries.numbered(queries.name_counts(len(kinds), "string_agg"))
        return queries.decode_name_counts(await self._fetch(sql, app, *kinds, since, until))

    async def event_times(self, app: str, kinds: Sequence[str], since: float, until: float) -> list[TimeRow]:
        """Return (time, visitor) of every event of the given kinds."""
        sql = queries.numbered(queries.event_times(len(kinds)))
        return [(row[0], row[1]) for row in await self._fetch(sql, app, *kinds, since, until)]


async def _close_pool(pool: asyncpg.Pool) -> None:
    try:
        await asyncio.wait_for(pool.close(), timeout=5.0)
    except (asyncio.TimeoutError, *_UNAVAILABLE):
        # A pool whose server went away may not close cleanly; terminate drops its sockets.
        pool.terminate()
