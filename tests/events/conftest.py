"""Fixtures of the event store tests: the PostgreSQL cluster and a store of each backend."""

from conftest_pg import postgres_cluster, postgres_dsn, store

__all__ = ["postgres_cluster", "postgres_dsn", "store"]
