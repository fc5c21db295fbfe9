"""A bare aiohttp streaming forwarder: the floor a Python proxy on aiohttp can reach, to compare Guidegate with.

It does only what any reverse proxy must: drop hop-by-hop headers, send the request upstream on a pooled
keep-alive connection and stream the response back. No routing, metrics, logging or header rewriting.
It runs on the same event loop as Guidegate by default (uvloop when installed), so that the comparison
measures the proxies' own code rather than the loop.
"""

from __future__ import annotations

import argparse
import logging
import sys

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from bench.process import Process, ProcessGroup, free_port, wait_for_port
from proxy.eventloop import loop_factory

logger = logging.getLogger(__name__)

READ_CHUNK = 256 * 1024
_HOP_BY_HOP = frozenset(
    ("connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "host", "content-length")
)
SESSION_KEY: web.AppKey[aiohttp.ClientSession] = web.AppKey("session")


def _end_to_end(headers: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    return CIMultiDict((name, value) for name, value in headers.items() if name.lower() not in _HOP_BY_HOP)


def forwarder_app(upstream: str) -> web.Application:
    """Build the forwarding application for an upstream origin such as 'http://127.0.0.1:8081'."""

    async def forward(request: web.Request) -> web.StreamResponse:
        session = request.app[SESSION_KEY]
        data = request.content if request.body_exists else None
        async with session.request(
            request.method, upstream + request.raw_path, headers=_end_to_end(request.headers), data=data, allow_redirects=False
        ) as answer:
            response = web.StreamResponse(status=answer.status, reason=answer.reason, headers=_end_to_end(answer.headers))
            if answer.content_length is not None:
                response.content_length = answer.content_length
            try:
                await response.prepare(request)
                async for chunk in answer.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
            except ConnectionResetError:
                # wrk closes its connections mid-request when a run ends; drop the response quietly.
                answer.close()
            return response

    async def open_session(application: web.Application) -> None:
        application[SESSION_KEY] = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=100, keepalive_timeout=30),
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            read_bufsize=READ_CHUNK,
            skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent", "Content-Type"),
        )

    async def close_session(application: web.Application) -> None:
        await application[SESSION_KEY].close()

    application = web.Application()
    application.router.add_route("*", "/{tail:.*}", forward)
    application.on_startup.append(open_session)
    application.on_cleanup.append(close_session)
    return application


def start_floor(group: ProcessGroup, upstream: str) -> tuple[Process, str]:
    """Start the forwarder in its own process in front of `upstream`; return it and its base URL."""
    port = free_port()
    process = group.start(
        "floor", [sys.executable, "-m", "bench.floor", "--port", str(port), "--upstream", upstream]
    )
    wait_for_port(process, port)
    return process, f"http://127.0.0.1:{port}"


def main() -> None:
    """Serve the forwarder on 127.0.0.1 until SIGTERM."""
    parser = argparse.ArgumentParser(description="Forward every request to one upstream, streaming both ways.")
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1")
    parser.add_argument("--upstream", required=True, help="upstream origin, e.g. http://127.0.0.1:8081")
    parser.add_argument(
        "--event-loop", choices=("auto", "uvloop", "asyncio"), default="auto",
        help="the loop to run on; 'auto' takes uvloop when installed, as Guidegate does by default",
    )
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    web.run_app(
        forwarder_app(arguments.upstream.rstrip("/")),
        host="127.0.0.1",
        port=arguments.port,
        access_log=None,
        print=None,
        backlog=1024,
        loop=loop_factory(arguments.event_loop)(),
    )


if __name__ == "__main__":
    main()
