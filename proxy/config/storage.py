"""Configuration of the event store: backend, location, batching, retries and retention."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from proxy.config.values import DURATION_SCHEMA, parse_duration
from proxy.yamlbind import setting


@dataclass(frozen=True)
class StorageConfig:
    """Location of the event store and how events are written to it."""

    backend: Literal["sqlite", "postgresql"] = setting("sqlite", help="'sqlite' (one instance) or 'postgresql'")
    path: str = setting("var/guidegate.sqlite3", help="SQLite database file, relative to the config file")
    dsn: str | None = setting(None, help="PostgreSQL connection URL, e.g. postgresql://user@host/db")
    pool_size: int = setting(4, minimum=1, maximum=100, help="PostgreSQL connections per process at most")
    connect_timeout: float = setting(
        5.0, parse=parse_duration, schema=DURATION_SCHEMA, help="longest wait for a PostgreSQL connection, e.g. '5s'"
    )
    queue_size: int = setting(10_000, minimum=1, help="events held in memory before new ones are dropped")
    batch_size: int = setting(500, minimum=1, help="events written per transaction at most")
    flush_interval: float = setting(
        0.5, parse=parse_duration, schema=DURATION_SCHEMA, help="maximum wait before a partial batch is written, e.g. '500ms'"
    )
    retry_delay: float = setting(
        0.5,
        parse=parse_duration,
        schema=DURATION_SCHEMA,
        help="wait before the first retry when the store is down; doubled on each failure, e.g. '500ms'",
    )
    retry_max_delay: float = setting(
        30.0, parse=parse_duration, schema=DURATION_SCHEMA, help="maximum wait between two retries, e.g. '30s'"
    )
    retention_days: int = setting(365, minimum=1, help="events older than this many days are deleted")
    retention_interval: float = setting(
        3600.0, parse=parse_duration, schema=DURATION_SCHEMA, help="time between two deletions of old events, e.g. '1h'"
    )
