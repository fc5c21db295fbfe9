"""The embedded event store: one SQLite file in WAL mode, written through one aiosqlite connection."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

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

WRITE_CACHE_KIB = 16 * 1024
"""Page cache of the write connection (SQLite's default is 2 MiB).

The visitor indexes take each event at a random position, so a batch touches pages all over
them. A larger cache saves reading those pages back for every batch.
"""

WAL_CHECKPOINT_PAGES = 4000
"""WAL pages (about 16 MiB at SQLite's 4 KiB page size) after which a commit copies them into the database file.

With SQLite's default of 1000 pages, about every 500-event batch ended in a checkpoint that copied
each index page it touched. A longer WAL lets a page that several batches touch be copied once.
"""


class SqliteStore:
    """Events in one SQLite database file.

    One connection, opened by `open`, does every write. A lock keeps each write transaction
    whole, because aiosqlite would otherwise interleave the statements of two coroutines on it.
    Each query opens a short-lived connection of its own, since WAL lets readers run while the
    writer appends. With `synchronous=NORMAL` a power cut may lose the last committed batches but
    does not corrupt the file.
    """

    def __init__(self, path: Path, *, busy_timeout: float = 5.0) -> None:
        self.path = path
        self.description = f"sqlite:{path}"
        self._busy_timeout = busy_timeout
        self._connection: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        """Create the folder and the file when missing, set WAL, and migrate the schema."""
        if self._connection is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = await aiosqlite.connect(self.path, isolation_level=None)
        except (OSError, sqlite3.Error) as error:
            raise StoreUnavailableError(
                f"cannot open the SQLite event database {self.path}: {error}; "
                "expected a writable folder for storage.path"
            ) from error
        try:
            await connection.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
            await connection.execute("PRAGMA journal_mode = WAL")
            await connection.execute("PRAGMA synchronous = NORMAL")
            await connection.execute(f"PRAGMA cache_size = -{WRITE_CACHE_KIB}")
            await connection.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
            await self._migrate(connection)
        except sqlite3.Error as error:
            await connection.close()
            raise StoreUnavailableError(f"cannot prepare the SQLite event database {self.path}: {error}") from error
        except BaseException:
            await connection.close()
            raise
        self._connection = connection
        logger.info("event store opened: %s", self.description)

    async def _migrate(self, connection: aiosqlite.Connection) -> None:
        # BEGIN IMMEDIATE takes the write lock first, so two processes cannot both migrate.
        await connection.execute("BEGIN IMMEDIATE")
        try:
            await connection.execute(CREATE_VERSION_TABLE)
            async with connection.execute(CURRENT_VERSION) as cursor:
                row = await cursor.fetchone()
            current = int(row[0]) if row else 0
            for migration in pending(current, str(self.path)):
                for statement in migration.sqlite:
                    await connection.execute(statement)
                await connection.execute(RECORD_VERSION, (migration.version, migration.description, time.time()))
                logger.info("event database %s migrated to version %d", self.path, migration.version)
            await connection.execute("COMMIT")
        except BaseException:
            await connection.execute("ROLLBACK")
            raise

    async def close(self) -> None:
        """Close the connection; safe to call twice."""
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()
            logger.info("event store closed: %s", self.description)

    def _open_connection(self) -> aiosqlite.Connection:
        if self._connection is None:
            raise StoreUnavailableError(f"event store {self.description} is not open")
        return self._connection

    async def write(self, batch: Sequence[Entry]) -> None:
        """Insert the batch in one transaction, INSERT_CHUNK_ROWS events per statement.

        The sqlite3 module holds the GIL while it binds a statement's parameters and releases it
        while SQLite runs the statement. So one statement per event hands the GIL back and forth
        with the event loop's thread once per event: under the load of bench/capture.py that was
        about one voluntary context switch per captured request. One statement per chunk hands
        it over once per chunk.
        """
        if not batch:
            return
        connection = self._open_connection()
        rows = queries.records(batch)
        chunks = queries.chunked_parameters(rows)
        last_rows = len(rows) - (len(chunks) - 1) * queries.INSERT_CHUNK_ROWS
        async with self._lock:
            try:
                await connection.execute("BEGIN")
                try:
                    if len(chunks) > 1:
                        await connection.executemany(queries.insert_rows(queries.INSERT_CHUNK_ROWS), chunks[:-1])
                    await connection.execute(queries.insert_rows(last_rows), chunks[-1])
                    await connection.execute("COMMIT")
                except BaseException:
                    await connection.execute("ROLLBACK")
                    raise
            except (sqlite3.IntegrityError, sqlite3.InterfaceError) as error:
                raise BatchRejectedError(f"SQLite rejected a batch of {len(batch)} events: {error}") from error
            except sqlite3.Error as error:
                raise StoreUnavailableError(f"cannot write to {self.path}: {error}") from error

    async def delete_older_than(self, cutoff: float) -> int:
        """Delete in chunks of DELETE_CHUNK_SIZE rows, one transaction each."""
        connection = self._open_connection()
        deleted = 0
        while True:
            async with self._lock:
                try:
                    async with connection.execute(
                        queries.DELETE_CHUNK, (cutoff, queries.DELETE_CHUNK_SIZE)
                    ) as cursor:
                        count = cursor.rowcount
                except sqlite3.Error as error:
                    raise StoreUnavailableError(f"cannot delete old events from {self.path}: {error}") from error
            deleted += count
            if count < queries.DELETE_CHUNK_SIZE:
                return deleted

    @contextlib.asynccontextmanager
    async def _reader(self) -> AsyncIterator[aiosqlite.Connection]:
        """Open a connection for one query and close it afterwards.

        WAL lets it read while the write connection appends, so a long report does not delay the
        writer, and the queries of one report run in parallel threads.
        """
        self._open_connection()
        try:
            connection = await aiosqlite.connect(self.path)
        except sqlite3.Error as error:
            raise StoreUnavailableError(f"cannot open {self.path} for reading: {error}") from error
        try:
            await connection.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
            await connection.execute("PRAGMA query_only = 1")
            yield connection
        finally:
            await connection.close()

    async def _fetchall(self, sql: str, parameters: Sequence[Any]) -> list[Any]:
        try:
            async with self._reader() as connection:
                async with connection.execute(sql, parameters) as cursor:
                    return list(await cursor.fetchall())
        except sqlite3.Error as error:
            raise StoreUnavailableError(f"cannot read events from {self.path}: {error}") from error

    async def schema_version(self) -> int:
        """Return the highest applied migration."""
        rows = await self._fetchall(CURRENT_VERSION, ())
        return int(rows[0][0])

    async def count(self, app: str | None = None) -> int:
        """Return the number of stored events, of one app or of all."""
        if app is None:
            rows = await self._fetchall(queries.COUNT_ALL, ())
        else:
            rows = await self._fetchall(queries.COUNT_APP, (app,))
        return int(rows[0][0])

    async def read_events(self, app: str, since: float, until: float) -> list[Event]:
        """Return one app's events in the period, ordered by time then insertion."""
        rows = await self._fetchall(queries.SELECT_EVENTS, (app, since, until))
        return [queries.event_from_row(row) for row in rows]

    async def step_rows(
        self, app: str, since: float, until: float, page_size: int = 5000
    ) -> AsyncIterator[list[StepRow]]:
        """Yield workflow steps in pages from one cursor, ordered by time then insertion."""
        try:
            async with self._reader() as connection:
                async with connection.execute(queries.STEP_ROWS, (app, since, until)) as cursor:
                    while True:
                        page = await cursor.fetchmany(page_size)
                        if not page:
                            return
                        yield page  # type: ignore[misc]
        except sqlite3.Error as error:
            raise StoreUnavailableError(f"cannot read workflow steps from {self.path}: {error}") from error

    async def coded_step_rows(
        self, app: str, since: float, until: float, coding: StepCoding, page_size: int = 5000
    ) -> AsyncIterator[list[CodedStepRow]]:
        """Yield workflow steps coded by `coding` in pages from one cursor, ordered by time then insertion."""
        sql, parameters = queries.coded_step_rows(coding)
        try:
            async with self._reader() as connection:
                async with connection.execute(sql, (*parameters, app, since, until)) as cursor:
                    while True:
                        page = await cursor.fetchmany(page_size)
                        if not page:
                            return
                        yield page  # type: ignore[misc]
        except sqlite3.Error as error:
            raise StoreUnavailableError(f"cannot read workflow steps from {self.path}: {error}") from error

    async def visitor_roles(self, app: str, since: float, until: float) -> list[VisitorRolesRow]:
        """Return each distinct (visitor, roles) pair among the app's events in the period."""
        return await self._fetchall(queries.VISITOR_ROLES, (app, since, until))

    async def name_counts(
        self, app: str, kinds: Sequence[str], since: float, until: float
    ) -> list[NameCountRow]:
        """Return event counts per (kind, name, visitor) for events of the given kinds."""
        rows = await self._fetchall(queries.name_counts(len(kinds), "group_concat"), (app, *kinds, since, until))
        return queries.decode_name_counts(rows)

    async def event_times(self, app: str, kinds: Sequence[str], since: float, until: float) -> list[TimeRow]:
        """Return (time, visitor) of every event of the given kinds."""
        return await self._fetchall(queries.event_times(len(kinds)), (app, *kinds, since, until))

