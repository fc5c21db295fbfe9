"""Smoke test of the benchmark harness: its parsers on fixed input, and a quick run of the download section."""

from __future__ import annotations

import http.server
import shutil
import threading
from pathlib import Path

import pytest

from bench.__main__ import main
from bench.injection import Splice, find_splice
from bench.load import WrkResult, parse_wrk, run_wrk
from bench.profile import Hotspot, Profile, compare, parse_collapsed

WRK_OUTPUT = """\
Running 5s test @ http://127.0.0.1:40000/body-2048.bin
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    10.12ms    3.01ms  41.00ms   80.00%
    Req/Sec     6.31k   512.00     7.00k    70.00%
  Latency Distribution
     50%    9.92ms
     75%   11.00ms
     90%   13.00ms
     99%    1.25s
  31400 requests in 5.00s, 71.50MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 4
Requests/sec:   6280.00
Transfer/sec:     14.30MB
"""

PAGE = b'<html><head>\n<meta charset="utf-8">\n<title>x</title></head>'
TAG = b'<script src="/g/guidegate.js"></script>'


def test_parse_wrk() -> None:
    assert parse_wrk(WRK_OUTPUT, "url") == WrkResult(
        requests=31400, seconds=5.0, bytes_read=int(71.50 * 1024**2), p50_ms=9.92, p99_ms=1250.0, errors=9
    )


@pytest.mark.parametrize(
    ("injected", "expected"),
    [
        pytest.param(PAGE.replace(b"<title>", TAG + b"<title>"), Splice('<meta charset="utf-8">\n', TAG.decode()), id="before-title"),
        pytest.param(PAGE.replace(b"<head>", b"<head>" + TAG), Splice("<head>", TAG.decode()), id="after-head"),
        pytest.param(PAGE.replace(b"<head>\n", b"<head>\n" + TAG + b"\n"), Splice("<head>", "\n" + TAG.decode()), id="own-line"),
        pytest.param(PAGE, None, id="unchanged"),
        pytest.param(PAGE.replace(b"x", b"y" + TAG), None, id="text-changed"),
    ],
)
def test_find_splice(injected: bytes, expected: Splice | None) -> None:
    assert find_splice(PAGE, injected) == expected


def test_compare_profiles() -> None:
    guidegate = Profile(
        parse_collapsed(
            "<module> (/srv/cli.py:1);handle (/srv/proxy/server.py:60);forward (/srv/proxy/forward.py:150) 6\n"
            "<module> (/srv/cli.py:1);write (/usr/lib/python3.11/asyncio/selector_events.py:1) 4\n"
        ),
        100.0,
    )
    floor = Profile(
        parse_collapsed(
            "<module> (/srv/floor.py:1);write (/usr/lib/python3.11/asyncio/selector_events.py:1) 5\n"
            "<module> (/srv/floor.py:1);forward (/srv/bench/floor.py:40) 5\n"
        ),
        50.0,
    )

    assert compare(guidegate, floor) == [
        Hotspot("forward (proxy/forward.py)", 60.0, 60.0, 0.0),
        Hotspot("write (asyncio/selector_events.py)", 40.0, 40.0, 25.0),
        Hotspot("handle (proxy/server.py)", 0.0, 60.0, 0.0),
        Hotspot("forward (bench/floor.py)", 0.0, 0.0, 25.0),
    ]


@pytest.mark.skipif(
    not (shutil.which("wrk") and Path("/usr/sbin/nginx").exists() and shutil.which("curl")),
    reason="needs the Debian packages wrk, nginx-light and curl",
)
def test_quick_download_run(tmp_path: Path) -> None:
    report = tmp_path / "BENCHMARKS.md"

    status = main(["--quick", "--only", "download", "--output", str(report)])

    assert status == 0
    text = report.read_text(encoding="utf-8")
    assert "## 64 MiB streamed download" in text
    for target in ("| direct |", "| Guidegate |", "| bare forwarder |", "| nginx |"):
        assert target in text
    assert "| 64 MiB download: Guidegate RSS growth | < 5 MB |" in text


@pytest.mark.skipif(not shutil.which("wrk"), reason="needs the Debian package wrk")
def test_paced_wrk_bounds_rate(tmp_path: Path) -> None:
    """With a mean pause of 100 ms, 2 connections send about 20 requests a second, far below what the server takes."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _OkHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        result = run_wrk(url, tmp_path, seconds=2, connections=2, max_requests=100_000, pause_ms=100)
    finally:
        server.shutdown()
        server.server_close()
    assert result.errors == 0
    # About 40 requests are expected. The bounds leave room for the randomness of the pauses.
    assert 10 <= result.requests <= 100
    assert (tmp_path / "paced.lua").is_file()


class _OkHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the signature http.server defines
        """Keep the test output free of request lines."""
