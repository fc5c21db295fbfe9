"""No accepted event is lost: not when `guidegate run` gets SIGTERM under load, not while PostgreSQL is down."""

from __future__ import annotations

import asyncio
import logging
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


OUTAGE_SECONDS = 10.0
"""How long PostgreSQL stays down while requests keep coming."""
RETRY_MAX_DELAY = 2.0
"""The writer's longest wait between two attempts in this test. Waits from 100 ms up reach it about
3 s into the outage, so the writer spends most of the outage retrying at that cap, and finds the
store back at most that long after it returns."""
REQUEST_PAUSE = 0.02


@pytest.mark.postgres
async def test_store_outage_loses_nothing(
    tmp_path: Path,
    start_upstream: StartUpstream,
    start_proxy: StartProxy,
    postgres_cluster: PostgresCluster,
    postgres_dsn: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="proxy.events.writer")
    upstream = await start_export_site(start_upstream)
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    proxy = await start_proxy(
        f"""
storage: {{backend: postgresql, dsn: "{postgres_dsn}", flush_interval: 20ms, retry_delay: 100ms, retry_max_delay: {RETRY_MAX_DELAY:g}s, connect_timeout: 1s}}
apps:
  - {{name: erp, upstream: "{upstream}/", rules: [rules.yaml]}}
"""
    )
    writer = proxy.gateway.writer
    statuses: list[int] = []
    slowest = 0.0
    stop_traffic = asyncio.Event()

    async def export(client: aiohttp.ClientSession) -> None:
        nonlocal slowest
        started = time.monotonic()
        async with client.get("/po/export") as response:
            await response.read()
            statuses.append(response.status)
        slowest = max(slowest, time.monotonic() - started)

    async def traffic(client: aiohttp.ClientSession) -> None:
        while not stop_traffic.is_set():
            await export(client)
            await asyncio.sleep(REQUEST_PAUSE)

    async def wait_until_written(deadline: float) -> None:
        while writer.stats().failed_attempts and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    async with aiohttp.ClientSession(proxy.url, timeout=aiohttp.ClientTimeout(total=5)) as client:
        for _ in range(10):
            await export(client)
        assert await writer.flush(timeout=5)
        before = writer.stats().written

        requests = asyncio.ensure_future(traffic(client))
        try:
            await asyncio.to_thread(postgres_cluster.stop)
            try:
                await asyncio.sleep(OUTAGE_SECONDS)
                during = writer.stats()
                async with client.get("/__guidegate/metrics") as response:
                    metrics = await response.text()
            finally:
                await asyncio.to_thread(postgres_cluster.start)
            restarted = time.monotonic()
            await wait_until_written(restarted + RETRY_MAX_DELAY + 5)
            recovered_after = time.monotonic() - restarted
        finally:
            stop_traffic.set()
            await requests
        flushed = await writer.flush(timeout=10)
    after = writer.stats()
    sent = len(statuses)

    assert before == 10
    assert flushed
    assert sent > 10 + 100
    assert statuses == [200] * sent
    assert slowest < 1.0
    assert during.write_errors >= 6
    assert during.failed_attempts >= 6
    assert during.retry_delay == RETRY_MAX_DELAY
    assert during.store_available is False
    assert during.queued + during.pending > 0
    assert "guidegate_event_store_up 0.0" in metrics
    assert f"guidegate_event_store_retry_delay_seconds {RETRY_MAX_DELAY}" in metrics
    assert recovered_after < RETRY_MAX_DELAY + 2
    assert (after.accepted, after.written, after.dropped_queue_full, after.dropped_shutdown) == (sent, sent, 0, 0)
    assert (after.store_available, after.failed_attempts) == (True, 0)
    assert await asyncio.to_thread(count_events, postgres_dsn) == sent

    where = writer.store.description
    messages = [record.getMessage() for record in caplog.records if record.name == "proxy.events.writer"]
    assert any(message.startswith(f"event store {where}: write failed (attempt 1, ") for message in messages)
    assert any(
        message.startswith(f"event store {where}: write failed (attempt ") and f"retrying every {RETRY_MAX_DELAY:g}s from now on" in message
        for message in messages
    )
    assert any(message.startswith(f"event store {where} available again after ") for message in messages)
