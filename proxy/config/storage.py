"""Configuration of the event store: backend, location, batching and retention."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from proxy.config.values import DURATION_SCHEMA, parse_duration
from proxy.yamlbind import setting


@dataclass(frozen=True)
class StorageConfig:
    """Where events are stored and how they are written."""

    backend: Literal["sqlite", "postgresql"] = setting("sqlite", help="'sqlite' (one instance) or 'postgresql'")
    path: str = setting("var/guidegate.sqlite3", help="SQLite database file, relative to the config file")
    dsn: str | None = setting(None, help="PostgreSQL connection URL, e.g. postgresql://user@host/db")
    queue_size: int = setting(10_000, minimum=1, help="events held in memory before new ones are dropped")
    batch_size: int = setting(500, minimum=1, help="events written per transaction at most")
    flush_interval: float = setting(
        0.5, parse=parse_duration, schema=DURATION_SCHEMA, help="longest wait before a partial batch is written"
    )
    retention_days: int = setting(365, minimum=1, help="events older than this many days are deleted")
