"""Fixtures of the analytics tests: a store of each backend, opened in a fresh database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest_pg import PostgresCluster, postgres_cluster, postgres_dsn

from proxy.events import EventStore, PostgresStore, SqliteStore

__all__ = ["postgres_cluster", "postgres_dsn", "store", "backend_store"]

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


async def backend_store(request: pytest.FixtureRequest, folder: Path) -> EventStore:
    """Create (not open) a store of the backend named by the fixture parameter."""
    if request.param == "sqlite":
        return SqliteStore(folder / "events.sqlite3")
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    return PostgresStore(await cluster.create_schema())


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventStore]:
    """An open store on SQLite and on PostgreSQL, empty."""
    created = await backend_store(request, tmp_path)
    await created.open()
    try:
        yield created
    finally:
        await created.close()
