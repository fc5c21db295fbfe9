"""The capture benchmark: a workflow step on the loaded path (one event per request) against capture idle, for returning and new visitors."""

from __future__ import annotations

import datetime
import logging
import sqlite3
import statistics
import sys
import urllib.request
from pathlib import Path

from bench.fixtures import BODY_SIZES, Fixtures, write_fixtures
from bench.guidegate import start_guidegate
from bench.load import Meter, run_wrk
from bench.process import BenchError, Process, ProcessGroup, main_thread_cpu_seconds
from bench.scenarios import MAX_REQUESTS_PER_SECOND, Settings, Target, rotated
from bench.upstream import start_upstream

logger = logging.getLogger(__name__)

CAPTURE = "capture"
CASE = "2 KiB"
CAPTURE_ON = "Guidegate, capture on"
CAPTURE_OFF = "Guidegate, capture idle"
IDLE_STEP_PATH = "/no-benchmark-path-is-this-step"
MAX_P99_ADDED_MS = 1.0
RETURNING = "returning visitors"
FIRST_VISITS = "first visits"
TRAFFIC = (RETURNING, FIRST_VISITS)
"""Kinds of traffic at full load: requests with the visitor cookie a first response set, and requests without any cookie."""
PACED = "returning visitors, paced"
PACED_SHARE = 0.3
"""The paced runs offer both processes this share of the req/s that capture idle served at full load in the same repeat."""

Figures = dict[str, dict[str, dict[str, list[float]]]]
"""Measured values by traffic, then target, then figure (rps, p50_ms, p99_ms, cpu_us), one value per repeat."""

RULES = """\
app: demo

workflows:
  - id: bench-fetch
    title: Fetch the benchmark body
    steps:
      - name: fetch
        title: Fetch the body
        path: "{path}"
        methods: GET
        success:
          status: 200
"""
"""A rule file with one workflow whose only step is a GET of `path`."""


def write_rules(folder: Path, step_path: str) -> Path:
    """Write a rules folder whose one workflow step matches GET `step_path`; return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bench.yaml").write_text(RULES.format(path=step_path), encoding="utf-8")
    return folder


def count_events(database: Path) -> int:
    """Return the number of rows in the events table of a Guidegate SQLite store (0 when it has none yet)."""
    if not database.exists():
        return 0
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        row = connection.execute("SELECT count(*) FROM events").fetchone()
    except sqlite3.OperationalError:
        return 0
    finally:
        connection.close()
    return int(row[0])


def visitor_cookie(url: str) -> str:
    """Return the `name=value` of the visitor cookie that the Guidegate at `url` sets on a first visit.

    The runtime's page config request is what a browser sends from its first page, and it resolves
    the visitor, so its response carries the Set-Cookie that the browser sends back from then on.
    """
    try:
        with urllib.request.urlopen(f"{url}/__guidegate/config?app=demo&url=%2F", timeout=10) as response:
            header: str | None = response.headers.get("Set-Cookie")
    except OSError as error:
        raise BenchError(f"cannot get a visitor cookie from {url}: {error}") from error
    if not header:
        raise BenchError(f"{url}/__guidegate/config set no visitor cookie; expected a Set-Cookie header")
    return header.split(";", 1)[0]


def run_capture(settings: Settings, workdir: Path, command: str) -> str:
    """Measure capture on and idle in interleaved repeats; return the Markdown section with the figures."""
    fixtures: Fixtures = write_fixtures(workdir / "files", 1024 * 1024)
    path = fixtures.body_path(CASE)
    figures: Figures = {traffic: {CAPTURE_ON: {}, CAPTURE_OFF: {}} for traffic in (*TRAFFIC, PACED)}
    requests: dict[str, int] = {CAPTURE_ON: 0, CAPTURE_OFF: 0}
    with ProcessGroup(workdir) as group:
        upstream = start_upstream(group, fixtures, settings.slow_delay)
        on_rules = write_rules(workdir / "rules-capture-on", path)
        off_rules = write_rules(workdir / "rules-capture-idle", IDLE_STEP_PATH)
        on_process, on_url = start_guidegate(group, "guidegate-capture-on", upstream.url, rules=on_rules)
        off_process, off_url = start_guidegate(group, "guidegate-capture-idle", upstream.url, rules=off_rules)
        targets = [Target(CAPTURE_ON, on_url, on_process), Target(CAPTURE_OFF, off_url, off_process)]
        cookies = {target.name: visitor_cookie(target.url) for target in targets}
        for target in targets:
            run_wrk(target.url + path, workdir, seconds=1, connections=settings.connections,
                    max_requests=MAX_REQUESTS_PER_SECOND, headers=[f"Cookie: {cookies[target.name]}"])
        for repeat in range(settings.repeats):
            print(f"bench: capture repeat {repeat + 1} of {settings.repeats}", file=sys.stderr)
            for traffic in (*TRAFFIC, PACED):
                pause_ms = 0
                if traffic == PACED:
                    idle_rps = figures[RETURNING][CAPTURE_OFF]["rps"][-1]
                    pause_ms = max(1, round(settings.connections * 1000 / (PACED_SHARE * idle_rps)))
                for target in rotated(targets, repeat):
                    headers = [] if traffic == FIRST_VISITS else [f"Cookie: {cookies[target.name]}"]
                    bound = int(MAX_REQUESTS_PER_SECOND * settings.seconds)
                    meter = Meter(target.process)
                    meter.start()
                    loop_started = main_thread_cpu_seconds(target.process.pid)
                    result = run_wrk(target.url + path, workdir, seconds=settings.seconds,
                                     connections=settings.connections, max_requests=bound, headers=headers,
                                     pause_ms=pause_ms)
                    loop_seconds = main_thread_cpu_seconds(target.process.pid) - loop_started
                    usage = meter.stop()
                    if result.requests >= 0.95 * bound:
                        raise BenchError(f"wrk reached its bound of {bound} requests on {target.url}{path}")
                    if result.errors:
                        raise BenchError(f"wrk counted {result.errors} errors on {target.name}; see {target.process.log}")
                    requests[target.name] += result.requests
                    values = figures[traffic][target.name]
                    values.setdefault("rps", []).append(result.requests_per_second)
                    values.setdefault("p50_ms", []).append(result.p50_ms)
                    values.setdefault("p99_ms", []).append(result.p99_ms)
                    values.setdefault("cpu_us", []).append(usage.cpu_seconds * 1e6 / max(result.requests, 1))
                    values.setdefault("loop_cpu_us", []).append(loop_seconds * 1e6 / max(result.requests, 1))
                    values.setdefault("pause_ms", []).append(pause_ms)
                    logger.info("capture %s, %s: %.0f req/s, p50 %.2f ms, p99 %.2f ms, %.0f CPU µs/req", target.name, traffic,
                                result.requests_per_second, result.p50_ms, result.p99_ms, values["cpu_us"][-1])
        # Stopping Guidegate flushes the event writer, so the row count covers every request it captured.
        events = {}
        for target in targets:
            stop(target.process)
            events[target.name] = count_events(workdir / target.process.name / "events.sqlite3")
    return render(settings, command, path, figures, requests, events)


def stop(process: Process) -> None:
    """Stop a Guidegate process, and log a warning when it exited with an error status."""
    process.stop()
    if process.popen.returncode not in (0, None):
        logger.warning("%s exited with status %s; see %s", process.name, process.popen.returncode, process.log)


def render(
    settings: Settings,
    command: str,
    path: str,
    figures: Figures, requests: dict[str, int], events: dict[str, int]
) -> str:
    """Return the capture section as Markdown: a table per kind of traffic, the target verdict and the event counts."""
    on, off = figures[RETURNING][CAPTURE_ON], figures[RETURNING][CAPTURE_OFF]
    added = [first - second for first, second in zip(on["p99_ms"], off["p99_ms"])]
    median_added = statistics.median(on["p99_ms"]) - statistics.median(off["p99_ms"])
    verdict = "PASS" if median_added <= MAX_P99_ADDED_MS else "MISS"
    paced_added = statistics.median(figures[PACED][CAPTURE_ON]["p99_ms"]) - statistics.median(figures[PACED][CAPTURE_OFF]["p99_ms"])
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmark: workflow capture on vs idle",
        "",
        f"Measured {stamp} by `{command}` on the machine "
        "described in [BENCHMARKS.md](BENCHMARKS.md). Two Guidegate processes (one worker each, the configuration of "
        "`bench/guidegate.py`) forward to the same nginx upstream. Each has a rules folder with one workflow of one "
        f"step, `GET` with status 200 as success. For \"{CAPTURE_ON}\" the step path is the loaded path `{path}` "
        f"(a {BODY_SIZES[CASE]}-byte body), so capture records a step event per request into SQLite. For \"{CAPTURE_OFF}\" the step path is one "
        "that no request uses, so the rules are loaded but capture records nothing. "
        f"wrk runs one thread with {settings.connections} connections for {settings.seconds:g} s per measurement, "
        "the two processes take turns in each repeat, and the tables show medians over the repeats.",
        "",
        f"**{RETURNING.capitalize()}.** A browser sends the visitor cookie back once its first page set it, so in "
        "this traffic every wrk request carries a `Cookie` header with a valid visitor cookie. The harness gets one "
        "from each Guidegate before the runs, with the page config request (`/__guidegate/config`) that the runtime "
        "sends from a browser's first page. The target applies to this traffic.",
        "",
        *_table(figures[RETURNING]),
        "",
        "| target | required | measured | per repeat | verdict |",
        "| --- | --- | --- | --- | --- |",
        f"| capture on vs off: p99 added | <= +{MAX_P99_ADDED_MS:.3f} ms | {median_added:+.3f} ms "
        f"| {', '.join(f'{value:+.3f}' for value in added)} | {verdict} |",
        "",
        f"**{FIRST_VISITS.capitalize()}.** The same runs without a `Cookie` header, so every request comes from a new "
        "visitor. Capture on mints a visitor cookie and sends it in a `Set-Cookie` header with each response. Each "
        "event has a visitor id of its own.",
        "",
        *_table(figures[FIRST_VISITS]),
        "",
        f"**{PACED.capitalize()}.** The returning-visitor requests again, but each wrk connection pauses after every "
        "response, as a person reading a page would, so both processes get the same offered load whatever their "
        "speed. Each pause is drawn at random from an exponential distribution, so requests arrive spread out rather "
        f"than in bursts. The mean pause is set for {PACED_SHARE:.0%} of the req/s that capture idle served at full "
        f"load in the same repeat (per repeat: {', '.join(f'{value:g} ms' for value in figures[PACED][CAPTURE_ON]['pause_ms'])} "
        f"on {settings.connections} connections). The target above is judged at full load. This table shows what "
        "capture adds below saturation, where fewer requests wait behind others.",
        "",
        *_table(figures[PACED]),
        "",
        f"At the same offered load capture on added {paced_added:+.3f} ms at p99 "
        f"(per repeat: {', '.join(f'{first - second:+.3f}' for first, second in zip(figures[PACED][CAPTURE_ON]['p99_ms'], figures[PACED][CAPTURE_OFF]['p99_ms']))}).",
        "",
        f"Events in the SQLite store after the run (counted with `SELECT count(*) FROM events` once Guidegate stopped): "
        f"capture on {events[CAPTURE_ON]:,} rows for {requests[CAPTURE_ON]:,} measured requests (plus the 1 s warm-up), "
        f"capture idle {events[CAPTURE_OFF]:,} rows for {requests[CAPTURE_OFF]:,} requests.",
        "",
        "At full load the one Guidegate worker is CPU-bound: CPU µs/req times req/s in the 2 KiB table of BENCHMARKS.md "
        "is about one core. So latency is mostly time spent queued. "
        "The CPU that capture spends per request lowers req/s, and p50 and p99 grow with the queue. "
        f"With returning visitors capture on served {statistics.median(on['rps']) / statistics.median(off['rps']):.0%} "
        "of the idle req/s here. "
        f"Its process used {statistics.median(on['cpu_us']) - statistics.median(off['cpu_us']):.0f} "
        "CPU µs more per request, "
        f"{statistics.median(on['loop_cpu_us']) - statistics.median(off['loop_cpu_us']):.0f} of them in the event loop thread. "
        "CPU µs/req is the Guidegate process's user and system time, all threads, over the requests wrk completed. "
        "The event loop thread is the process's main thread. The other threads include the SQLite writer.",
    ]
    return "\n".join(lines) + "\n"


def _table(figures: dict[str, dict[str, list[float]]]) -> list[str]:
    """Return the Markdown table of one kind of traffic: medians per target and the p99 of each repeat."""
    lines = [
        "| target | req/s | p50 ms | p99 ms | CPU µs/req | event loop thread CPU µs/req | p99 per repeat (ms) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name in (CAPTURE_ON, CAPTURE_OFF):
        values = figures[name]
        lines.append(
            f"| {name} | {statistics.median(values['rps']):,.0f} | {statistics.median(values['p50_ms']):.2f} "
            f"| {statistics.median(values['p99_ms']):.2f} | {statistics.median(values['cpu_us']):.0f} "
            f"| {statistics.median(values['loop_cpu_us']):.0f} | {', '.join(f'{value:.2f}' for value in values['p99_ms'])} |"
        )
    return lines
