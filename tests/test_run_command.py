"""The `guidegate check` and `guidegate run` commands, run as real processes."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import ssl
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from conftest import Running, StartUpstream, TLSFiles, free_port
from proxy.cli import main

START_TIMEOUT = 15.0
"""Seconds a process may take to start listening or to exit; generous for a loaded CI machine."""


class Guidegate:
    """A `guidegate` process started by a test, with its standard error collected line by line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._changed = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            self.lines.append(raw.decode().rstrip("\n"))
            self._changed.set()
        self._changed.set()

    async def wait_for_line(self, pattern: str, timeout: float = START_TIMEOUT) -> str:
        """Return the first line of standard error that matches `pattern`, waiting for it if needed."""
        return (await self.wait_for_lines(pattern, 1, timeout))[0]

    async def wait_for_lines(self, pattern: str, count: int, timeout: float = START_TIMEOUT) -> list[str]:
        """Return the first `count` lines of standard error that match `pattern`, waiting for them if needed."""
        regex = re.compile(pattern)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self._changed.clear()
            found = [line for line in self.lines if regex.search(line)]
            if len(found) >= count:
                return found[:count]
            if self._reader.done():
                raise AssertionError(f"process ended without a line matching {pattern!r}:\n" + "\n".join(self.lines))
            try:
                await asyncio.wait_for(self._changed.wait(), deadline - loop.time())
            except asyncio.TimeoutError:
                raise AssertionError(f"no line matching {pattern!r} within {timeout} s:\n" + "\n".join(self.lines)) from None

    async def exit_code(self, timeout: float = START_TIMEOUT) -> int:
        code = await asyncio.wait_for(self.process.wait(), timeout)
        await self._reader
        return code

    def children(self) -> list[int]:
        """Return the PIDs of the processes this one forked."""
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                found.append(int(entry))
        return sorted(found)


StartGuidegate = Callable[..., Awaitable[Guidegate]]


@pytest.fixture
async def run_guidegate() -> AsyncIterator[StartGuidegate]:
    """Start `python -m proxy.cli run ...`; every process started is killed by PID when the test ends."""
    started: list[Guidegate] = []

    async def start(*arguments: str) -> Guidegate:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "proxy.cli", *arguments, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        guidegate = Guidegate(process)
        started.append(guidegate)
        return guidegate

    try:
        yield start
    finally:
        for guidegate in started:
            pids = guidegate.children() + [guidegate.process.pid]
            if guidegate.process.returncode is None:
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            await guidegate.process.wait()
            await guidegate._reader


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def config_text(upstream_url: str, port: int, extra: str = "") -> str:
    return f"""
listeners:
  - host: 127.0.0.1
    port: {port}
shutdown_timeout: 5s
{extra}
apps:
  - name: web
    upstream: {upstream_url}/
"""


async def start_hello(start_upstream: StartUpstream) -> Running:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    application = web.Application()
    application.router.add_get("/{tail:.*}", hello)
    return await start_upstream(application)


def test_check_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "apps:\n  - name: web\n    upstream: http://127.0.0.1:8081/\n")

    code = main(["check", "--config", str(path)])

    output = capsys.readouterr()
    assert code == 0
    assert output.out.splitlines()[0] == f"{path}: OK"
    assert output.err == ""


def test_check_invalid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "workers: many\napps:\n  - name: web\n    upstream: ftp://127.0.0.1/\n")

    code = main(["check", "--config", str(path)])

    output = capsys.readouterr()
    assert code == 1
    assert output.out == ""
    assert output.err == (
        f"{path}:1:10: invalid value 'many' for 'workers'; expected an integer\n"
        f"{path}:4:15: invalid value 'ftp://127.0.0.1/' for 'apps[0].upstream'; "
        "expected an absolute http:// or https:// URL such as 'http://127.0.0.1:8081/'\n"
        "2 problem(s) found\n"
    )


async def test_check_exit_code(tmp_path: Path) -> None:
    path = write(tmp_path, "apps: []\n")

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy.cli", "check", "--config", str(path), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), START_TIMEOUT)

    assert process.returncode == 1
    assert out == b""
    assert err.decode() == f"{path}:1:7: no apps configured; expected at least one app with a name and an upstream\n1 problem(s) found\n"


async def test_run_bad_config_exits_1(tmp_path: Path, run_guidegate: StartGuidegate) -> None:
    path = write(tmp_path, "apps:\n  - name: web\n    upstream: ${GG_TEST_UNSET_UPSTREAM}\n")

    guidegate = await run_guidegate("run", "--config", str(path))

    assert await guidegate.exit_code() == 1
    assert guidegate.lines == [
        f"{path}:3:15: environment variable GG_TEST_UNSET_UPSTREAM is not set; expected it to be set, "
        "or a default written as ${GG_TEST_UNSET_UPSTREAM:-value}",
        "guidegate: not started because the configuration is invalid",
    ]


async def test_run_port_in_use_exits_1(tmp_path: Path, run_guidegate: StartGuidegate) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        path = write(tmp_path, config_text("http://127.0.0.1:9", port))

        guidegate = await run_guidegate("run", "--config", str(path))
        code = await guidegate.exit_code()

    assert code == 1
    assert guidegate.lines[-1] == (
        f"guidegate: cannot listen on 127.0.0.1:{port}: Address already in use; expected a free port on an address of this machine"
    )
    assert [line for line in guidegate.lines if "Traceback" in line or "Unclosed" in line] == []


ACCESS_TEXT = (
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO guidegate\.access: "
    r"web GET /hello 200 2 \d+\.\dms upstream=\d+\.\dms id=[0-9a-f]{16}$"
)


async def test_run_serves_text_log(tmp_path: Path, start_upstream: StartUpstream, run_guidegate: StartGuidegate) -> None:
    upstream = await start_hello(start_upstream)
    port = free_port()
    path = write(tmp_path, config_text(upstream.url, port))

    guidegate = await run_guidegate("run", "--config", str(path))
    await guidegate.wait_for_line(f"listening on http://127.0.0.1:{port}$")
    async with aiohttp.ClientSession() as client:
        async with client.get(f"http://127.0.0.1:{port}/hello?x=1") as response:
            status, text = response.status, await response.text()
    line = await guidegate.wait_for_line("guidegate.access")
    guidegate.process.send_signal(signal.SIGTERM)

    assert (status, text) == (200, "hi")
    assert re.match(ACCESS_TEXT, line), line
    assert await guidegate.exit_code() == 0


async def test_run_serves_json_log(tmp_path: Path, start_upstream: StartUpstream, run_guidegate: StartGuidegate) -> None:
    upstream = await start_hello(start_upstream)
    port = free_port()
    path = write(tmp_path, config_text(upstream.url, port, "logging:\n  format: json\n"))

    guidegate = await run_guidegate("run", "--config", str(path))
    await guidegate.wait_for_line(f"listening on http://127.0.0.1:{port}")
    async with aiohttp.ClientSession() as client:
        async with client.get(f"http://127.0.0.1:{port}/hello?x=1") as response:
            assert await response.text() == "hi"
    line = await guidegate.wait_for_line('"logger": "guidegate.access"')
    guidegate.process.send_signal(signal.SIGTERM)

    entry = json.loads(line)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry.pop("time"))
    duration, upstream_ms, request_id = entry.pop("duration_ms"), entry.pop("upstream_ms"), entry.pop("request_id")
    assert isinstance(duration, float) and isinstance(upstream_ms, float)
    assert re.fullmatch(r"[0-9a-f]{16}", request_id)
    message = entry.pop("message")
    assert re.fullmatch(rf"web GET /hello 200 2 \d+\.\dms upstream=\d+\.\dms id={request_id}", message), message
    assert entry == {"level": "info", "logger": "guidegate.access", "app": "web", "method": "GET", "path": "/hello", "status": 200, "bytes": 2}
    assert await guidegate.exit_code() == 0


async def test_sigterm_drains_in_flight(tmp_path: Path, start_upstream: StartUpstream, run_guidegate: StartGuidegate) -> None:
    arrived, release = asyncio.Event(), asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        arrived.set()
        await release.wait()
        return web.Response(text="finished after the signal")

    application = web.Application()
    application.router.add_get("/slow", slow)
    upstream = await start_upstream(application)
    port = free_port()
    path = write(tmp_path, config_text(upstream.url, port))
    guidegate = await run_guidegate("run", "--config", str(path))
    await guidegate.wait_for_line(f"listening on http://127.0.0.1:{port}")

    async with aiohttp.ClientSession() as client:
        in_flight = asyncio.ensure_future(client.get(f"http://127.0.0.1:{port}/slow"))
        try:
            await asyncio.wait_for(arrived.wait(), START_TIMEOUT)
            guidegate.process.send_signal(signal.SIGTERM)
            await guidegate.wait_for_line("shutting down: no new connections")
            with pytest.raises(ConnectionRefusedError):
                await asyncio.open_connection("127.0.0.1", port)
        finally:
            release.set()
        response = await asyncio.wait_for(in_flight, START_TIMEOUT)
        status, text = response.status, await response.text()
        response.release()

    assert (status, text) == (200, "finished after the signal")
    assert await guidegate.exit_code() == 0


async def test_sigterm_deadline(tmp_path: Path, start_upstream: StartUpstream, run_guidegate: StartGuidegate) -> None:
    arrived, release = asyncio.Event(), asyncio.Event()

    async def stuck(request: web.Request) -> web.Response:
        arrived.set()
        await release.wait()
        return web.Response(text="never seen")

    application = web.Application()
    application.router.add_get("/stuck", stuck)
    upstream = await start_upstream(application)
    port = free_port()
    path = write(tmp_path, config_text(upstream.url, port).replace("shutdown_timeout: 5s", "shutdown_timeout: 300ms"))
    guidegate = await run_guidegate("run", "--config", str(path))
    await guidegate.wait_for_line(f"listening on http://127.0.0.1:{port}")

    # A raw socket, because aiohttp's client would retry the GET after the disconnect.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /stuck HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await writer.drain()
        await asyncio.wait_for(arrived.wait(), START_TIMEOUT)
        guidegate.process.send_signal(signal.SIGTERM)
        code = await guidegate.exit_code(timeout=5.0)
        received = await asyncio.wait_for(reader.read(), START_TIMEOUT)
    finally:
        writer.close()
        release.set()

    assert code == 0
    assert received == b""


async def test_tls_listener(tmp_path: Path, start_upstream: StartUpstream, run_guidegate: StartGuidegate, tls_files: TLSFiles) -> None:
    upstream = await start_hello(start_upstream)
    port = free_port()
    tls = f"    tls:\n      certificate: {tls_files.certificate.name}\n      key: {tls_files.key.name}\n"
    path = write(tmp_path, config_text(upstream.url, port).replace(f"    port: {port}\n", f"    port: {port}\n{tls}"))

    guidegate = await run_guidegate("run", "--config", str(path))
    await guidegate.wait_for_line(f"listening on https://127.0.0.1:{port}$")
    context = ssl.create_default_context(cafile=str(tls_files.ca))
    async with aiohttp.ClientSession() as client:
        async with client.get(f"https://127.0.0.1:{port}/hello", ssl=context) as response:
            status, text = response.status, await response.text()
    guidegate.process.send_signal(signal.SIGTERM)

    assert (status, text) == (200, "hi")
    assert await guidegate.exit_code() == 0


def connection_owner(pids: list[int], local_port: int, remote_port: int) -> int | None:
    """Return which of `pids` owns the loopback TCP connection between the two ports, read from /proc."""
    inode = None
    with open("/proc/net/tcp", encoding="ascii") as table:
        for row in table.readlines()[1:]:
            fields = row.split()
            local, remote = fields[1], fields[2]
            if int(local.split(":")[1], 16) == local_port and int(remote.split(":")[1], 16) == remote_port:
                inode = fields[9]
    if inode is None:
        return None
    for pid in pids:
        for descriptor in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{descriptor}") == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    return None


async def test_two_workers(tmp_path: Path, start_upstream: StartUpstream, run_guidegate: StartGuidegate) -> None:
    sources: list[int] = []

    async def record(request: web.Request) -> web.Response:
        assert request.transport is not None
        sources.append(request.transport.get_extra_info("peername")[1])
        return web.Response(text="hi")

    application = web.Application()
    application.router.add_get("/{tail:.*}", record)
    upstream = await start_upstream(application)
    port = free_port()
    path = write(tmp_path, config_text(upstream.url, port))

    guidegate = await run_guidegate("run", "--config", str(path), "--workers", "2")
    await guidegate.wait_for_lines(f"listening on http://127.0.0.1:{port}$", 2)
    workers = guidegate.children()

    # Each request on a new connection; the kernel spreads connections over the two listening sockets.
    owners: set[int | None] = set()
    for _ in range(40):
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as client:
            async with client.get(f"http://127.0.0.1:{port}/") as response:
                assert await response.text() == "hi"
        owners.add(connection_owner(workers, sources[-1], upstream.port))
        if len(owners) == 2:
            break
    guidegate.process.send_signal(signal.SIGTERM)

    assert len(workers) == 2
    assert owners == set(workers)
    assert await guidegate.exit_code() == 0
    assert guidegate.children() == []


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        pytest.param("auto", "uvloop", id="auto"),
        pytest.param("uvloop", "uvloop", id="uvloop"),
        pytest.param("asyncio", "asyncio", id="asyncio"),
    ],
)
async def test_run_event_loop(
    tmp_path: Path, start_upstream: StartUpstream, run_guidegate: StartGuidegate, choice: str, expected: str
) -> None:
    upstream = await start_hello(start_upstream)
    port = free_port()
    path = write(tmp_path, config_text(upstream.url, port, f"event_loop: {choice}\n"))

    guidegate = await run_guidegate("run", "--config", str(path))
    line = await guidegate.wait_for_line("event loop: ")
    await guidegate.wait_for_line(f"listening on http://127.0.0.1:{port}$")
    async with aiohttp.ClientSession() as client:
        async with client.get(f"http://127.0.0.1:{port}/hello") as response:
            status, text = response.status, await response.text()
    guidegate.process.send_signal(signal.SIGTERM)

    assert line.endswith(f"INFO proxy.eventloop: event loop: {expected}")
    assert (status, text) == (200, "hi")
    assert await guidegate.exit_code() == 0
