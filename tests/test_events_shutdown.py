"""No accepted event is lost: not when `guidegate run` gets SIGTERM under load, not while PostgreSQL is down."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from conftest_pg import PostgresCluster, postgres_cluster, postgres_dsn

from conftest import StartProxy, StartUpstream, free_port

__all__ = ["postgres_cluster", "postgres_dsn"]

RULES = """\
features:
  - {id: export, title: Export orders, requests: {path: /po/export, methods: GET}}
"""
REQUESTS = 300
CONCURRENCY = 20
START_TIMEOUT = 15.0


async def start_export_site(start_upstream: StartUpstream) -> str:
    """An upstream whose export takes a few milliseconds, so that requests are in flight when the signal comes."""

    async def export(request: web.Request) -> web.Response:
        await asyncio.sleep(0.005)
        return web.Response(text="number,vendor\n7,Acme\n", content_type="text/csv")

    application = web.Application()
    application.router.add_get("/po/export", export)
    return (await start_upstream(application)).url


@pytest.fixture
async def guidegate_process(tmp_path: Path, start_upstream: StartUpstream) -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    """`guidegate run` as a child process with one app whose every export is a feature event; killed by PID if still running."""
    upstream = await start_export_site(start_upstream)
    port = free_port()
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(
        f"""
listeners: [{{host: 127.0.0.1, port: {port}}}]
shutdown_timeout: 5s
logging: {{access_log: false}}
storage: {{path: events.sqlite3, flush_interval: 50ms}}
apps:
  - {{name: erp, upstream: "{upstream}/", rules: [rules.yaml]}}
""",
        encoding="utf-8",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy.cli", "run", "--config", str(config),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        lines: list[str] = []
        while not any(f"listening on http://127.0.0.1:{port}" in line for line in lines):
            line = await asyncio.wait_for(process.stderr.readline(), START_TIMEOUT)
            assert line, "guidegate exited before listening:\n" + "".join(lines)
            lines.append(line.decode())
        yield process, port
    finally:
        if process.returncode is None:
            os.kill(process.pid, signal.SIGKILL)
        await process.wait()


async def test_sigterm_under_load_keeps_events(guidegate_process: tuple[asyncio.subprocess.Process, int], tmp_path: Path) -> None:
    process, port = guidegate_process
    assert process.stderr is not None
    stderr = asyncio.ensure_future(process.stderr.read())
    ok_responses = 0
    failed = 0
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(client: aiohttp.ClientSession, index: int) -> None:
        nonlocal ok_responses, failed
        async with limit:
            if index == REQUESTS // 3:
                process.send_signal(signal.SIGTERM)
            try:
                async with client.get(f"http://127.0.0.1:{port}/po/export", params={"n": str(index)}) as response:
                    await response.read()
                    if response.status == 200:
                        ok_responses += 1
            except (aiohttp.ClientError, asyncio.TimeoutError):
                failed += 1

    started = time.monotonic()
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as client:
        await asyncio.gather(*(one(client, index) for index in range(REQUESTS)))
    code = await asyncio.wait_for(process.wait(), START_TIMEOUT)
    log = (await stderr).decode()
    elapsed = time.monotonic() - started

    with sqlite3.connect(tmp_path / "events.sqlite3") as database:
        stored = database.execute("SELECT COUNT(*) FROM events WHERE kind = 'feature' AND name = 'export'").fetchone()[0]
    assert code == 0, log
    assert elapsed < 10
    assert ok_responses + failed == REQUESTS
    assert ok_responses >= REQUESTS // 3 - CONCURRENCY
    assert failed > 0, "the signal came after the last request; expected some requests to find the proxy stopped"
    assert stored == ok_responses
    assert "events unwritten" not in log


def count_events(dsn: str) -> int:
    async def count() -> int:
        connection = await asyncpg.connect(dsn)
        try:
            return int(await connection.fetchval("SELECT COUNT(*) FROM events"))
        finally:
            await connection.close()

    return asyncio.run(count())


OUTAGE_SECONDS = 4.0
"""How long PostgreSQL stays down. The writer's behaviour depends on the outage's length only
through its backoff, which with retry_max_delay 1s reaches its longest delay after about 2 s; a
4-second outage therefore runs the same code as a 10-second one, with several attempts at that
delay, in less than half the time."""


@pytest.mark.postgres
async def test_store_outage_loses_nothing(
    tmp_path: Path, start_upstream: StartUpstream, start_proxy: StartProxy, postgres_cluster: PostgresCluster, postgres_dsn: str
) -> None:
    upstream = await start_export_site(start_upstream)
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    proxy = await start_proxy(
        f"""
storage: {{backend: postgresql, dsn: "{postgres_dsn}", flush_interval: 20ms, retry_delay: 100ms, retry_max_delay: 1s, connect_timeout: 1s}}
apps:
  - {{name: erp, upstream: "{upstream}/", rules: [rules.yaml]}}
"""
    )
    writer = proxy.gateway.writer
    sent = 0
    slowest = 0.0

    async def export(client: aiohttp.ClientSession) -> None:
        nonlocal sent, slowest
        started = time.monotonic()
        async with client.get("/po/export") as response:
            assert response.status == 200
            await response.read()
        slowest = max(slowest, time.monotonic() - started)
        sent += 1

    async with aiohttp.ClientSession(proxy.url, timeout=aiohttp.ClientTimeout(total=5)) as client:
        for _ in range(10):
            await export(client)
        assert await writer.flush(timeout=5)
        before = writer.stats().written

        await asyncio.to_thread(postgres_cluster.stop)
        try:
            outage_ends = time.monotonic() + OUTAGE_SECONDS
            while time.monotonic() < outage_ends:
                await export(client)
                await asyncio.sleep(0.02)
            during = writer.stats()
        finally:
            await asyncio.to_thread(postgres_cluster.start)
        flushed = await writer.flush(timeout=10)
    after = writer.stats()

    assert before == 10
    assert flushed
    assert slowest < 1.0
    assert during.write_errors > 0
    assert during.store_available is False
    assert during.queued + during.pending > 0
    assert (after.accepted, after.written, after.dropped_queue_full, after.dropped_shutdown) == (sent, sent, 0, 0)
    assert after.store_available is True
    assert await asyncio.to_thread(count_events, postgres_dsn) == sent
