"""CPU time that workflow capture spends per captured request, measured in-process without a load generator.

Builds the Gateway of the capture benchmark's configuration, then pushes synthetic exchanges through
the identity and capture hooks (prepare_request, on_response, on_complete) and lets the event writer
store what they submitted. `time.process_time` covers every thread of the process, so the SQLite
writer thread is counted too.

    .venv/bin/python -m bench.capture_cpu [--requests N] [--rounds R] [--cookie] [--profile FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from aiohttp import web
from aiohttp.http import HttpVersion11, RawRequestMessage
from aiohttp.streams import EMPTY_PAYLOAD
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from bench.capture import IDLE_STEP_PATH, write_rules
from bench.guidegate import benchmark_config
from proxy.config import load_config
from proxy.forward import Exchange, ForwardHook
from proxy.gateway import Gateway
from proxy.headers import client_view

STEP_PATH = "/body-2048.bin"
HOST = "127.0.0.1:8080"


@dataclass
class UpstreamHead:
    """The parts of an upstream response that the hooks read: status and headers."""

    status: int
    headers: CIMultiDictProxy[str]


@dataclass
class Connection:
    """The connection attributes that web.Request reads, without a socket; a TCP peer on loopback."""

    ssl_context: None = None
    peername: tuple[str, int] = ("127.0.0.1", 40000)
    sockname: tuple[str, int] = ("127.0.0.1", 8080)


@dataclass(frozen=True)
class Round:
    """CPU microseconds per request of one round: on the request path, in the writer, and both."""

    hooks: float
    writer: float

    @property
    def total(self) -> float:
        return self.hooks + self.writer


def build_gateway(workdir: Path, step_path: str) -> Gateway:
    """Build the Gateway of the capture benchmark, with its one workflow step on `step_path`."""
    rules = write_rules(workdir / "rules", step_path)
    document = benchmark_config("http://127.0.0.1:9", 8080, workdir, rules=rules)
    (workdir / "roles.csv").write_text("alice,clerk\nbob,manager\n", encoding="utf-8")
    config_path = workdir / "config.yaml"
    config_path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return Gateway.build(load_config(config_path))


def new_exchange(gateway: Gateway, number: int, cookie: str | None) -> Exchange:
    """Return an exchange of a GET to the step path, routed as the gateway routes it."""
    headers = CIMultiDict({"Host": HOST, "Accept": "*/*"})
    if cookie is not None:
        headers["Cookie"] = cookie
    request = new_request("GET", STEP_PATH, headers)
    route = gateway.router.route(HOST, STEP_PATH)
    if route is None:
        raise RuntimeError(f"no route for {STEP_PATH}")
    view = client_view(request.headers, request.remote, request.scheme, gateway.config.trusted_proxies)
    return Exchange(request=request, route=route, app=route.app, view=view, request_id=f"bench{number:08x}")


def new_request(method: str, path: str, headers: CIMultiDict[str]) -> web.Request:
    """Return a real aiohttp request object for a message that no socket delivered.

    unittest.mock objects (as aiohttp's make_mocked_request builds them) would fill the heap with
    reference cycles, and the garbage collector would then charge their cost to the measured hooks.
    """
    frozen = CIMultiDictProxy(headers)
    raw = tuple((name.encode(), value.encode()) for name, value in frozen.items())
    message = RawRequestMessage(method, path, HttpVersion11, frozen, raw, False, None, False, False, URL(path))
    connection = Connection()
    return web.Request(message, EMPTY_PAYLOAD, connection, None, None, asyncio.get_running_loop())  # type: ignore[arg-type]


ENDED_PER_TURN = 20
"""Exchanges that capture records together, as it does at the event loop's next turn. Under the full
load of bench/capture.py, about 20 captured exchanges ended per turn (counted in a patched process)."""


async def run_round(gateway: Gateway, requests: int, cookie: str | None, profiler: cProfile.Profile | None) -> Round:
    """Push `requests` exchanges through the hooks, then wait for the writer; return CPU µs per request."""
    hooks: list[ForwardHook] = [gateway.visitors, gateway.capture]
    upstream = UpstreamHead(200, CIMultiDictProxy(CIMultiDict({"Content-Type": "application/octet-stream", "Content-Length": "2048"})))
    hooked = 0.0
    for number in range(requests):
        # Built one at a time and outside the timed part, so the heap contains what a server's does.
        # The garbage collector's passes over a heap of prepared exchanges would count as capture.
        exchange = new_exchange(gateway, number, cookie)
        if profiler is not None:
            profiler.enable()
        started = time.process_time()
        headers = CIMultiDict(exchange.request.headers)
        for hook in hooks:
            headers = hook.prepare_request(exchange, headers)
        exchange.upstream_started = time.perf_counter()
        exchange.upstream_status = 200
        response_headers = CIMultiDict(upstream.headers)
        for hook in hooks:
            hook.on_response(exchange, upstream, response_headers)  # type: ignore[arg-type]
        exchange.bytes_out = 2048
        for hook in hooks:
            hook.on_complete(exchange, 200)
        if number % ENDED_PER_TURN == ENDED_PER_TURN - 1:
            await gateway.capture.drain(timeout=60)
        hooked += time.process_time() - started
        if profiler is not None:
            profiler.disable()
    if profiler is not None:
        profiler.enable()
    started = time.process_time()
    await gateway.capture.drain(timeout=60)
    hooked += time.process_time() - started
    flushing = time.process_time()
    if not await gateway.writer.flush(timeout=60):
        raise RuntimeError("the event writer did not finish within 60 s")
    written = time.process_time()
    if profiler is not None:
        profiler.disable()
    return Round(hooked * 1e6 / requests, (written - flushing) * 1e6 / requests)


async def measure(step_path: str, requests: int, rounds: int, cookie: str | None, profile: Path | None) -> list[Round]:
    """Start a gateway with its step on `step_path` and measure `rounds` rounds of `requests` exchanges."""
    with tempfile.TemporaryDirectory(prefix="capture-cpu-") as folder:
        built = build_gateway(Path(folder), step_path)
        await built.start()
        try:
            for _ in range(500):
                if built.writer.stats().store_available:
                    break
                await asyncio.sleep(0.01)
            await run_round(built, min(requests, 1000), cookie, None)
            profiler = cProfile.Profile() if profile is not None else None
            results = [await run_round(built, requests, cookie, profiler) for _ in range(rounds)]
            if profiler is not None and profile is not None:
                profiler.dump_stats(profile)
            stored = await built.store.count()
        finally:
            await built.stop()
        print(f"events stored: {stored}", file=sys.stderr)
        return results


def main() -> None:
    """Parse the command line, measure, and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=5_000, help="exchanges per round")
    parser.add_argument("--rounds", type=int, default=7, help="rounds; the medians are printed")
    parser.add_argument("--cookie", action="store_true", help="send a valid visitor cookie, as a browser does after its first response")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the measured rounds to this file")
    arguments = parser.parse_args()
    cookie = "guidegate_vid=" + "A" * 32 if arguments.cookie else None
    idle = asyncio.run(measure(IDLE_STEP_PATH, arguments.requests, arguments.rounds, cookie, None))
    results = asyncio.run(measure(STEP_PATH, arguments.requests, arguments.rounds, cookie, arguments.profile))
    idle_hooks = statistics.median(result.hooks for result in idle)
    for label, values in (
        ("hooks, capture idle", [result.hooks for result in idle]),
        ("hooks, capture on", [result.hooks for result in results]),
        ("writer and store", [result.writer for result in results]),
        ("capture in total", [result.total - idle_hooks for result in results]),
    ):
        print(f"{label:20} {statistics.median(values):7.2f} CPU µs per request  ({', '.join(f'{value:.2f}' for value in values)})")


if __name__ == "__main__":
    main()
