"""Numbered schema migrations of the event store, one list for both backends.

Each store applies the pending migrations in order inside one transaction and records each version
in `schema_version`, so opening a database twice, or from two instances at once, changes nothing
the second time.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.events.store import SchemaTooNewError

CREATE_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version ("
    "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
)
CURRENT_VERSION = "SELECT COALESCE(MAX(version), 0) FROM schema_version"
RECORD_VERSION = "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)"


@dataclass(frozen=True)
class Migration:
    """One schema change: the statements each backend runs to apply it."""

    version: int
    description: str
    sqlite: tuple[str, ...]
    postgresql: tuple[str, ...]


_INDEXES = (
    # Retention deletes by time across apps.
    "CREATE INDEX events_time ON events (time)",
    # Active visitors and their roles: grouped straight from the index.
    "CREATE INDEX events_visitor_roles ON events (app, visitor, roles, time)",
    # Feature users and guide engagement per visitor: grouped straight from the index.
    "CREATE INDEX events_name_visitor ON events (app, kind, name, visitor, time)",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        description="events table and the indexes of the reports",
        sqlite=(
            "CREATE TABLE events ("
            "id INTEGER PRIMARY KEY, "
            "time REAL NOT NULL, "
            "app TEXT NOT NULL, "
            "visitor TEXT NOT NULL, "
            "session TEXT, "
            "roles TEXT NOT NULL DEFAULT '', "
            "kind TEXT NOT NULL, "
            "name TEXT, "
            "step TEXT, "
            "outcome TEXT, "
            "status INTEGER, "
            "duration REAL, "
            "detail TEXT)",
            # Covers the time-ordered step stream: SQLite reads it without touching the table.
            "CREATE INDEX events_kind_time ON events (app, kind, time, id, visitor, name, step, outcome)",
            *_INDEXES,
        ),
        postgresql=(
            # COLLATE "C" compares bytes as SQLite does, so GROUP BY and ORDER BY agree.
            "CREATE TABLE events ("
            "id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
            "time DOUBLE PRECISION NOT NULL, "
            'app TEXT COLLATE "C" NOT NULL, '
            'visitor TEXT COLLATE "C" NOT NULL, '
            'session TEXT COLLATE "C", '
            "roles TEXT COLLATE \"C\" NOT NULL DEFAULT '', "
            'kind TEXT COLLATE "C" NOT NULL, '
            'name TEXT COLLATE "C", '
            'step TEXT COLLATE "C", '
            'outcome TEXT COLLATE "C", '
            "status INTEGER, "
            "duration DOUBLE PRECISION, "
            "detail TEXT)",
            "CREATE INDEX events_kind_time ON events (app, kind, time, id) INCLUDE (visitor, name, step, outcome)",
            *_INDEXES,
        ),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version


def pending(current: int, where: str) -> tuple[Migration, ...]:
    """Return the migrations after `current`; raise SchemaTooNewError for a newer database."""
    if current > LATEST_VERSION:
        raise SchemaTooNewError(
            f"event database {where} has schema version {current}, newer than the {LATEST_VERSION} this "
            "Guidegate knows; run the Guidegate release that created it, or point storage at another database"
        )
    return tuple(migration for migration in MIGRATIONS if migration.version > current)
