"""The proxy-core scenarios: 2 KB and 200 KB responses under load and a streamed download, through every target."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.fixtures import BODY_SIZES, Fixtures
from bench.load import MB, Meter, download, measure_ttfb, run_wrk
from bench.process import BenchError, Process
from bench.results import Results

logger = logging.getLogger(__name__)

DIRECT = "direct"
GUIDEGATE = "Guidegate"
GUIDEGATE_2 = "Guidegate, 2 workers"
FLOOR = "bare forwarder"
NGINX = "nginx"
MITMPROXY = "mitmproxy"

CORE = "core"
DOWNLOAD = "download"

MAX_REQUESTS_PER_SECOND = 200_000
"""Request bound of a wrk run per second of its duration, far above any target's rate on loopback."""


@dataclass(frozen=True)
class Settings:
    """How long and how often each measurement runs."""

    repeats: int
    seconds: float
    connections: int
    ttfb_count: int
    download_size: int
    warmup: bool
    injection_seconds: float
    injection_sizes: tuple[str, ...]
    slow_delay: float
    slow_count: int


@dataclass(frozen=True)
class Target:
    """Something requests go through: the upstream itself or a proxy in front of it."""

    name: str
    url: str
    process: Process
    """The process tree whose CPU and memory are measured (the upstream's, for the direct target)."""


def rotated(targets: Sequence[Target], repeat: int) -> list[Target]:
    """Return `targets` rotated by `repeat`, so that no target always runs first or last."""
    if not targets:
        return []
    shift = repeat % len(targets)
    return [*targets[shift:], *targets[:shift]]


class LoadRunner:
    """Runs one measurement at a time against a target and records the figures."""

    def __init__(self, settings: Settings, workdir: Path, upstream: Process, results: Results) -> None:
        self.settings = settings
        self.workdir = workdir
        self.upstream = upstream
        self.results = results

    def load(
        self,
        section: str,
        case: str,
        target: Target,
        path: str,
        *,
        seconds: float,
        headers: Sequence[str] = (),
        ttfb: bool = True,
    ) -> None:
        """Run wrk against `target` and record req/s, latency, MB/s, CPU per request, peak RSS and TTFB."""
        proxy = Meter(target.process)
        upstream = Meter(self.upstream)
        bound = int(MAX_REQUESTS_PER_SECOND * seconds)
        proxy.start()
        upstream.start()
        result = run_wrk(
            target.url + path,
            self.workdir,
            seconds=seconds,
            connections=self.settings.connections,
            max_requests=bound,
            headers=headers,
        )
        used = proxy.stop()
        upstream_used = upstream.stop()

        # A run cut short by the bound still lasts the full duration in wrk, so its rate would be wrong.
        if result.requests >= 0.95 * bound:
            raise BenchError(f"wrk reached its bound of {bound} requests on {target.url}{path}; raise MAX_REQUESTS_PER_SECOND")

        record = self.results.add
        record(section, case, target.name, "rps", result.requests_per_second)
        record(section, case, target.name, "p50_ms", result.p50_ms)
        record(section, case, target.name, "p99_ms", result.p99_ms)
        record(section, case, target.name, "mbps", result.megabytes_per_second)
        record(section, case, target.name, "errors", float(result.errors))
        record(section, case, target.name, "upstream_cpu_pct", 100 * upstream_used.cpu_seconds / result.seconds)
        record(section, case, target.name, "load_cpu_us", 1e6 * result.cpu_seconds / max(result.requests, 1))
        if target.name != DIRECT:
            record(section, case, target.name, "cpu_us", 1e6 * used.cpu_seconds / max(result.requests, 1))
            record(section, case, target.name, "rss_mb", used.peak_rss / MB)

        if result.errors:
            self.results.note(f"{target.name}, {section} {case}: wrk counted {result.errors} errors in one run.")
        if ttfb:
            time.sleep(0.2)
            milliseconds = measure_ttfb(target.url, path, self.settings.ttfb_count, headers)
            record(section, case, target.name, "ttfb_ms", milliseconds)
        logger.info(
            "%s %s via %s: %.0f req/s, p50 %.2f ms, p99 %.2f ms, %.0f us CPU per request",
            section, case, target.name, result.requests_per_second, result.p50_ms, result.p99_ms,
            1e6 * used.cpu_seconds / max(result.requests, 1),
        )

    def download(self, target: Target, fixtures: Fixtures, case: str) -> None:
        """Stream the download file through `target` once and record MB/s, CPU, peak RSS and RSS growth."""
        meter = Meter(target.process)
        meter.start()
        fetched = download(target.url + fixtures.download_path, fixtures.download_size, timeout=300)
        used = meter.stop()
        record = self.results.add
        record(DOWNLOAD, case, target.name, "mbps", fetched.megabytes_per_second)
        record(DOWNLOAD, case, target.name, "cpu_s", used.cpu_seconds)
        record(DOWNLOAD, case, target.name, "rss_mb", used.peak_rss / MB)
        record(DOWNLOAD, case, target.name, "rss_growth_mb", used.rss_growth / MB)
        logger.info("download %s via %s: %.0f MB/s", case, target.name, fetched.megabytes_per_second)


def warm_up(runner: LoadRunner, targets: Sequence[Target], fixtures: Fixtures) -> None:
    """Fill the page cache with the download file and open each target's upstream connections before measuring."""
    download(targets[0].url + fixtures.download_path, fixtures.download_size, timeout=300)
    for target in targets:
        if runner.settings.warmup:
            run_wrk(
                target.url + fixtures.body_path("2 KiB"), runner.workdir, seconds=1,
                connections=runner.settings.connections, max_requests=MAX_REQUESTS_PER_SECOND,
            )
        measure_ttfb(target.url, fixtures.body_path("2 KiB"), 20)


def run_core(runner: LoadRunner, targets: Sequence[Target], fixtures: Fixtures, repeat: int) -> None:
    """Measure the 2 KiB and 200 KiB responses through every target, in an order rotated by `repeat`."""
    for case in BODY_SIZES:
        for target in rotated(targets, repeat):
            runner.load(CORE, case, target, fixtures.body_path(case), seconds=runner.settings.seconds)


def download_case(fixtures: Fixtures) -> str:
    """Return the label of the download, e.g. '1 GiB', or '64 MiB' in quick runs."""
    mebibytes = fixtures.download_size // (1024 * 1024)
    return f"{mebibytes // 1024} GiB" if mebibytes >= 1024 else f"{mebibytes} MiB"


def run_download(runner: LoadRunner, targets: Sequence[Target], fixtures: Fixtures, repeat: int) -> None:
    """Stream the download through every target, in an order rotated by `repeat`."""
    for target in rotated(targets, repeat):
        runner.download(target, fixtures, download_case(fixtures))
