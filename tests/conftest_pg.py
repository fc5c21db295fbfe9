"""Event store fixtures: a throwaway PostgreSQL 15 cluster (one schema per test) and a store of each backend."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from proxy.events import EventStore, PostgresStore, SqliteStore

BIN = Path(os.environ.get("GUIDEGATE_PG_BIN", "/usr/lib/postgresql/15/bin"))
REQUIRED = ("initdb", "pg_ctl", "postgres")


def missing_binaries() -> str | None:
    """Return why the cluster cannot start here, or None when it can."""
    absent = [name for name in REQUIRED if not (BIN / name).exists()]
    if absent:
        return f"PostgreSQL 15 binaries not found in {BIN} ({', '.join(absent)}); install postgresql-15"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root and runuser is missing; PostgreSQL refuses to run as root"
    return None


class PostgresCluster:
    """A PostgreSQL server in a temporary folder, on 127.0.0.1 and a free port, trusting local users.

    As root the server runs as the `postgres` user through runuser, because PostgreSQL refuses to
    run as root.
    """

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="guidegate-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self._names = itertools.count(1)

    def _command(self, *arguments: str) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *arguments]
        return list(arguments)

    def _run(self, *arguments: str) -> None:
        result = subprocess.run(self._command(*arguments), capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(arguments)} failed ({result.returncode}): {result.stderr or result.stdout}")

    def initialise(self) -> None:
        """Create the cluster files."""
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(
            str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "--no-sync", "--encoding=UTF8", "--locale=C",
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.folder} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"), "-w", "start")

    def stop(self) -> None:
        """Stop the server at once (fast shutdown)."""
        self._run(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        """Delete the cluster folder."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def dsn(self, database: str = "postgres") -> str:
        """Return the URL of a database on this server."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    async def create_schema(self) -> str:
        """Return the DSN of a new, empty schema, so each test gets its own.

        A schema is much quicker to create than a database. asyncpg passes the DSN's
        `search_path` parameter to the server, so the store's tables land in that schema.
        """
        name = f"test_{next(self._names)}"
        connection = await asyncpg.connect(self.dsn())
        try:
            await connection.execute(f"CREATE SCHEMA {name}")
        finally:
            await connection.close()
        return f"{self.dsn()}?search_path={name}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


_cluster: PostgresCluster | None = None
_users = 0


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A PostgreSQL server shared by the whole session; skipped when the binaries are missing.

    Several conftest modules import this fixture; the cluster is started once and stopped after
    the last of them is done with it.
    """
    global _cluster, _users
    reason = missing_binaries()
    if reason:
        pytest.skip(reason)
    if _cluster is None:
        cluster = PostgresCluster()
        try:
            cluster.initialise()
            cluster.start()
        except BaseException:
            cluster.remove()
            raise
        _cluster = cluster
    _users += 1
    try:
        yield _cluster
    finally:
        _users -= 1
        if _users == 0:
            cluster, _cluster = _cluster, None
            try:
                cluster.stop()
            finally:
                cluster.remove()


@pytest.fixture
async def postgres_dsn(postgres_cluster: PostgresCluster) -> AsyncIterator[str]:
    """The DSN of a fresh, empty schema on the session's cluster."""
    yield await asyncio.wait_for(postgres_cluster.create_schema(), 30)


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventStore]:
    """An open, empty store: once on SQLite and once on PostgreSQL."""
    created: EventStore
    if request.param == "sqlite":
        created = SqliteStore(tmp_path / "events.sqlite3")
    else:
        cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
        created = PostgresStore(await cluster.create_schema())
    await created.open()
    try:
        yield created
    finally:
        await created.close()
