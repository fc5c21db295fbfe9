"""Event recording: the event model, the SQLite and PostgreSQL stores, the batch writer and retention."""

from __future__ import annotations

from pathlib import Path

from proxy.config.storage import StorageConfig
from proxy.events.model import KINDS, Event
from proxy.events.postgres import PostgresStore
from proxy.events.sqlite import SqliteStore
from proxy.events.store import (
    BatchRejectedError,
    EventStore,
    SchemaTooNewError,
    StoreError,
    StoreUnavailableError,
)
from proxy.events.writer import EventWriter, WriterStats

__all__ = [
    "KINDS",
    "BatchRejectedError",
    "Event",
    "EventStore",
    "EventWriter",
    "PostgresStore",
    "SchemaTooNewError",
    "SqliteStore",
    "StoreError",
    "StoreUnavailableError",
    "WriterStats",
    "create_store",
]


def create_store(storage: StorageConfig, base_dir: Path) -> EventStore:
    """Build the configured store (not opened yet); a relative SQLite path is taken from `base_dir`.

    Raises StoreError when the PostgreSQL backend has no DSN.
    """
    if storage.backend == "postgresql":
        if not storage.dsn:
            raise StoreError(
                "storage.backend is 'postgresql' but storage.dsn is not set; "
                "expected a URL such as postgresql://guidegate@db.example.com/guidegate"
            )
        return PostgresStore(storage.dsn, pool_size=storage.pool_size, connect_timeout=storage.connect_timeout)
    path = Path(storage.path)
    return SqliteStore(path if path.is_absolute() else base_dir / path)
