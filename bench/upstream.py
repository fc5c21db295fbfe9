"""The upstream of every scenario: nginx serving the fixture files, and an aiohttp server for the slow page.

nginx serves a small static file for a fraction of the CPU any proxy under test spends per request, so the
proxy and not the upstream sets the pace (the report's "upstream CPU %" column shows how busy it was). Requests under /slow/ go on to a small aiohttp server
that sends a page's head at once and the rest after a delay.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from dataclasses import dataclass

from aiohttp import web

from bench.fixtures import Fixtures, page_head, page_rows
from bench.nginx import start_nginx
from bench.process import Process, ProcessGroup, free_port, wait_for_port

logger = logging.getLogger(__name__)

SLOW_PATH = "/slow/page.html"
SLOW_BODY_SIZE = 20 * 1024

_UPSTREAM_HTTP = """\
    upstream slow_page {{
        server 127.0.0.1:{slow_port};
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {root};
        sendfile on;
        tcp_nopush on;
        keepalive_requests 10000000;
        keepalive_timeout 300s;
        location /pages/ {{
            # Serves page.html.gz to clients that accept gzip, page.html to the others.
            gzip_static on;
            gzip_proxied any;
            gzip_vary on;
        }}
        location /slow/ {{
            proxy_pass http://slow_page;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }}
    }}
"""


@dataclass(frozen=True)
class Upstream:
    """The running upstream: its base URL and the processes to measure."""

    url: str
    port: int
    nginx: Process
    slow_page: Process


def start_upstream(group: ProcessGroup, fixtures: Fixtures, slow_delay: float) -> Upstream:
    """Start the slow-page server and nginx in front of it and the fixture files."""
    slow_port = free_port()
    slow = group.start(
        "slow-page",
        [sys.executable, "-m", "bench.upstream", "--port", str(slow_port), "--delay", str(slow_delay)],
    )
    wait_for_port(slow, slow_port)
    port = free_port()
    nginx = start_nginx(
        group, "upstream-nginx", port, _UPSTREAM_HTTP.format(port=port, slow_port=slow_port, root=fixtures.root)
    )
    return Upstream(f"http://127.0.0.1:{port}", port, nginx, slow)


def slow_page_app(delay: float) -> web.Application:
    """Build the aiohttp application that streams SLOW_PATH: the head at once, the rows `delay` seconds later."""
    head = page_head("Orders (slow)")
    rows = page_rows(SLOW_BODY_SIZE, seed=7)

    async def slow_page(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html; charset=utf-8"})
        await response.prepare(request)
        await response.write(head)
        await asyncio.sleep(delay)
        await response.write(rows)
        await response.write_eof()
        return response

    application = web.Application()
    application.router.add_get(SLOW_PATH, slow_page)
    return application


def main() -> None:
    """Serve the slow page on 127.0.0.1 until SIGTERM."""
    parser = argparse.ArgumentParser(description="Serve a page whose head comes at once and whose body comes later.")
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1")
    parser.add_argument("--delay", type=float, default=0.5, help="seconds between the head and the rest of the page")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    web.run_app(slow_page_app(arguments.delay), host="127.0.0.1", port=arguments.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
