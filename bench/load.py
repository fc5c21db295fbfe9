"""Load and measurement: wrk runs, time to first byte with a raw-socket client, download speed, CPU and RSS."""

from __future__ import annotations

import dataclasses
import re
import resource
import shutil
import socket
import statistics
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bench.process import BenchError, Process, cpu_seconds, memory_bytes, reset_peak_rss

WRK = "/usr/bin/wrk"
CURL = "/usr/bin/curl"
MB = 1_000_000
"""MB and MB/s in every figure are 10**6 bytes."""

# Calls `thread:stop()` once the thread has sent the request limit, so no run sends more. wrk still waits out
# the whole -d duration and divides by it, so the caller rejects a run that reaches the limit.
_WRK_SCRIPT = """\
local limit, sent, payload = 0, 0, nil
function init(args)
    limit = tonumber(args[1])
    payload = wrk.format()
end
function request()
    sent = sent + 1
    if sent > limit then
        wrk.thread:stop()
    end
    return payload
end
"""

_PACED_SCRIPT = _WRK_SCRIPT + """\
local pause = 0
local bounded_init = init
function init(args)
    bounded_init(args)
    pause = tonumber(args[2])
    math.randomseed(1)
end
function delay()
    return pause * -math.log(1 - math.random())
end
"""
"""Lua for wrk: the bounded script plus a random pause before each request on a connection.

Each pause is drawn from an exponential distribution whose mean in milliseconds is the second
argument. Equal pauses would keep the connections in step, so their requests would arrive in bursts.
"""

_TIME_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_SIZE_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_TIME = r"([\d.]+)(us|ms|s|m|h)"


@dataclass(frozen=True)
class WrkResult:
    """Totals and latency percentiles of one wrk run."""

    requests: int
    seconds: float
    bytes_read: int
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_seconds: float = 0.0
    """User and system CPU time wrk itself used."""

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds

    @property
    def megabytes_per_second(self) -> float:
        return self.bytes_read / self.seconds / MB


def tool_path(path: str) -> str:
    """Return the path of a command-line tool, or raise BenchError naming the Debian package to install."""
    found = path if Path(path).exists() else shutil.which(Path(path).name)
    if found is None:
        raise BenchError(f"{path} was not found; install the Debian package {Path(path).name}")
    return found


def run_wrk(
    url: str,
    workdir: Path,
    *,
    seconds: float,
    connections: int,
    max_requests: int,
    headers: Sequence[str] = (),
    pause_ms: int = 0,
) -> WrkResult:
    """Load `url` with one wrk thread for `seconds`, sending `max_requests` requests at most.

    With `pause_ms`, each connection waits a random time, `pause_ms` on average, after a response
    before its next request, as a user reading a page would. The offered load is then at most
    connections * 1000 / pause_ms requests per second, whatever the server's speed.
    """
    script = workdir / ("paced.lua" if pause_ms else "bounded.lua")
    if not script.exists():
        script.write_text(_PACED_SCRIPT if pause_ms else _WRK_SCRIPT, encoding="utf-8")
    command = [
        tool_path(WRK), "--threads", "1", "--connections", str(connections), "--duration", f"{max(1, round(seconds))}s",
        "--timeout", "5s", "--latency", "--script", str(script),
    ]
    for header in headers:
        command += ["--header", header]
    command += [url, "--", str(max_requests)]
    if pause_ms:
        command.append(str(pause_ms))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise BenchError(f"wrk failed with status {completed.returncode} on {url}: {completed.stderr.strip()}")
    # RUSAGE_CHILDREN grows by the children reaped meanwhile: only wrk, as the servers run until the end.
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return dataclasses.replace(parse_wrk(completed.stdout, url), cpu_seconds=used)


def parse_wrk(output: str, url: str) -> WrkResult:
    """Parse wrk's text report, including the `--latency` distribution; raise BenchError if a line is missing."""
    totals = re.search(r"(\d+) requests in " + _TIME + r", ([\d.]+)(B|KB|MB|GB|TB) read", output)
    p50 = re.search(r"^\s+50%\s+" + _TIME, output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+" + _TIME, output, re.MULTILINE)
    if totals is None or p50 is None or p99 is None:
        raise BenchError(f"wrk printed no totals or latency distribution for {url}; its output was:\n{output}")
    errors = 0
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if socket_errors is not None:
        errors += sum(int(value) for value in socket_errors.groups())
    non_success = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_success is not None:
        errors += int(non_success.group(1))
    return WrkResult(
        requests=int(totals.group(1)),
        seconds=_milliseconds(totals.group(2), totals.group(3)) / 1000,
        bytes_read=int(float(totals.group(4)) * _SIZE_UNITS[totals.group(5)]),
        p50_ms=_milliseconds(p50.group(1), p50.group(2)),
        p99_ms=_milliseconds(p99.group(1), p99.group(2)),
        errors=errors,
    )


def _milliseconds(number: str, unit: str) -> float:
    return float(number) * _TIME_UNITS[unit]


@dataclass
class Response:
    """One HTTP/1.1 response read off a socket, with the times its parts arrived (seconds after the request)."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    first_byte: float = 0.0
    marker: float | None = None
    end: float = 0.0


class HttpClient:
    """A keep-alive HTTP/1.1 client on a raw socket that times the first byte, a body marker and the end."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        parts = urlsplit(base_url)
        self._address = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._host = parts.netloc
        self._timeout = timeout
        self._socket: socket.socket | None = None
        self._buffer = b""

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def get(self, path: str, headers: Sequence[str] = (), marker: bytes | None = None) -> Response:
        """Send GET `path` and read the whole response.

        A kept-alive connection that the server closed while idle is replaced once, and the request sent again.
        """
        request = "\r\n".join([f"GET {path} HTTP/1.1", f"Host: {self._host}", *headers, "", ""]).encode("latin-1")
        reused = self._socket is not None
        response = Response()
        try:
            started = self._send(request)
        except (BenchError, ConnectionError):
            if not reused:
                raise
            self.close()
            started = self._send(request)
        response.first_byte = time.perf_counter() - started
        self._read_head(response)
        self._read_body(started, response, marker)
        response.end = time.perf_counter() - started
        if response.headers.get("connection", "").lower() == "close":
            self.close()
        return response

    def _send(self, request: bytes) -> float:
        """Send `request` and wait for the first bytes of the response; return when it was sent."""
        if self._socket is None:
            self._socket = socket.create_connection(self._address, timeout=self._timeout)
            self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._buffer = b""
        started = time.perf_counter()
        self._socket.sendall(request)
        self._fill()
        return started

    def _fill(self) -> None:
        if self._socket is None:
            raise BenchError(f"the connection to {self._host} is closed")
        chunk = self._socket.recv(262144)
        if not chunk:
            self.close()
            raise BenchError(f"the server at {self._host} closed the connection before the response ended")
        self._buffer += chunk

    def _read_head(self, response: Response) -> None:
        while b"\r\n\r\n" not in self._buffer:
            self._fill()
        head, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        response.status = int(status_line.split()[1])
        for line in header_lines:
            name, _, value = line.partition(":")
            response.headers[name.strip().lower()] = value.strip()

    def _read_body(self, started: float, response: Response, marker: bytes | None) -> None:
        parts: list[bytes] = []
        tail = b""

        def take(data: bytes) -> None:
            nonlocal tail
            parts.append(data)
            if marker is not None and response.marker is None:
                window = tail + data
                if marker in window:
                    response.marker = time.perf_counter() - started
                tail = window[-len(marker) :]

        if "content-length" in response.headers:
            remaining = int(response.headers["content-length"])
            while remaining > 0:
                if not self._buffer:
                    self._fill()
                data, self._buffer = self._buffer[:remaining], self._buffer[remaining:]
                remaining -= len(data)
                take(data)
        elif response.headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                while b"\r\n" not in self._buffer:
                    self._fill()
                size_line, self._buffer = self._buffer.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                while len(self._buffer) < size + 2:
                    self._fill()
                if size == 0:
                    # No trailers are expected from the servers under test; the empty line ends the message.
                    self._buffer = self._buffer[2:]
                    break
                take(self._buffer[:size])
                self._buffer = self._buffer[size + 2 :]
        elif response.status not in (204, 304):
            raise BenchError(f"the response from {self._host} has neither Content-Length nor chunked encoding")
        response.body = b"".join(parts)


def measure_ttfb(base_url: str, path: str, count: int, headers: Sequence[str] = ()) -> float:
    """Return the median time to first byte, in milliseconds, of `count` sequential keep-alive GETs."""
    client = HttpClient(base_url)
    try:
        for _ in range(min(10, count)):
            client.get(path, headers)
        samples = []
        for _ in range(count):
            response = client.get(path, headers)
            if response.status != 200:
                raise BenchError(f"GET {base_url}{path} returned status {response.status}; expected 200")
            samples.append(response.first_byte * 1000)
    finally:
        client.close()
    return statistics.median(samples)


@dataclass(frozen=True)
class Download:
    """One streamed download by curl."""

    size: int
    seconds: float

    @property
    def megabytes_per_second(self) -> float:
        return self.size / self.seconds / MB


def download(url: str, expected_size: int, timeout: float) -> Download:
    """Fetch `url` with curl into /dev/null; raise BenchError unless all `expected_size` bytes arrive with 200."""
    command = [tool_path(CURL), "--silent", "--show-error", "--output", "/dev/null", "--max-time", str(int(timeout)),
               "--write-out", "%{http_code} %{size_download} %{time_total}", url]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout + 10, check=False)
    fields = completed.stdout.split()
    if completed.returncode != 0 or len(fields) != 3 or fields[0] != "200" or int(fields[1]) != expected_size:
        raise BenchError(
            f"download of {url} failed (curl status {completed.returncode}, output {completed.stdout!r}, "
            f"{completed.stderr.strip()}); expected status 200 and {expected_size} bytes"
        )
    return Download(int(fields[1]), float(fields[2]))


@dataclass(frozen=True)
class Usage:
    """CPU and memory a process tree used during one measurement."""

    cpu_seconds: float
    rss_before: int
    peak_rss: int

    @property
    def rss_growth(self) -> int:
        return self.peak_rss - self.rss_before


class Meter:
    """Measures a process tree from `start()` to `stop()`: CPU time and the peak RSS reached in between."""

    def __init__(self, process: Process) -> None:
        self._process = process
        self._pids: list[int] = []
        self._cpu = 0.0
        self._rss = 0

    def start(self) -> None:
        self._pids = self._process.pids()
        reset_peak_rss(self._pids)
        self._rss = memory_bytes(self._pids, "VmRSS")
        self._cpu = cpu_seconds(self._pids)

    def stop(self) -> Usage:
        return Usage(cpu_seconds(self._pids) - self._cpu, self._rss, memory_bytes(self._pids, "VmHWM"))
