"""`python -m bench.floors`: the minimum cost of injection and capture, each measured within one process.

The main benchmark compares two Guidegate processes, and two processes differ by a few per cent
even when they run the same code. Here each variant (see bench/variants/sitecustomize.py) runs in
one process that serves both sides of its comparison, and short runs alternate between the sides,
so slow changes of the machine's speed hit both alike:

- injection: the app at / injects and an app at /plain/ passes through, both fetching the same page
  from the same nginx;
- capture: one app, with a workflow step on one path and an identical file on another path.

The report gives, per variant, the ratio of req/s between the two sides over many pairs of runs,
the event loop thread's extra CPU per request and, for capture, the extra p99 latency. A control
variant, whose two sides do the same, shows how far the method itself strays from 1.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import math
import os
import shlex
import shutil
import sqlite3
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.capture import CASE, count_events, visitor_cookie, write_rules
from bench.fixtures import PAGE_SIZES, write_fixtures
from bench.guidegate import start_guidegate
from bench.injection import NAVIGATION_HEADERS, RUNTIME_FILE, fetch
from bench.load import run_wrk
from bench.process import BenchError, Process, ProcessGroup, main_thread_cpu_seconds
from bench.report import describe_machine
from bench.scenarios import MAX_REQUESTS_PER_SECOND
from bench.upstream import start_upstream

logger = logging.getLogger("bench.floors")

REPOSITORY = Path(__file__).resolve().parent.parent
REPORT = REPOSITORY / "docs" / "BENCHMARKS-floors.md"
VARIANTS_FOLDER = Path(__file__).resolve().parent / "variants"
VARIANT_VARIABLE = "GUIDEGATE_BENCH_VARIANT"
"""Environment variable that names the variant, read under the same name by bench/variants/sitecustomize.py."""

PAGE = "200 KiB"
PLAIN_PREFIX = "/plain/"
COPY_PATH = "/body-copy.bin"
CONNECTIONS = 64
SECTIONS = ("injection", "capture")
INJECTION_TARGET = 0.95
CAPTURE_TARGET_MS = 1.0

INJECTION_VARIANTS = {
    "product": "Guidegate as shipped: the full rewriter",
    "inject-minimal": "decides, then inserts the snippet before the first </head> of the first chunk, drops Content-Length, passes the rest",
    "inject-decide-only": "decides, then passes every body through",
    "inject-control": "injection off for both apps",
}
CAPTURE_VARIANTS = {
    "product": "Guidegate as shipped: identity, match, one event row per step, stored in SQLite",
    "capture-no-store": "as shipped, but the SQLite write does nothing",
    "capture-identify": "matches the step and resolves the visitor as shipped, keeps a tuple; no row, no store",
    "capture-control": "capture does nothing on either path",
}


@dataclass(frozen=True)
class Run:
    """One wrk run against one side."""

    rps: float
    p99_ms: float
    loop_cpu_us: float


@dataclass
class Figures:
    """The runs of one variant, as pairs of (measured side, baseline side) run back to back."""

    variant: str
    description: str
    pairs: list[tuple[Run, Run]] = field(default_factory=list)

    def ratios(self) -> list[float]:
        return [side.rps / base.rps for side, base in self.pairs]

    @property
    def ratio_median(self) -> float:
        return statistics.median(self.ratios())

    @property
    def ratio_mean(self) -> float:
        return statistics.mean(self.ratios())

    @property
    def ratio_error(self) -> float:
        """Standard error of the mean ratio."""
        ratios = self.ratios()
        return statistics.stdev(ratios) / math.sqrt(len(ratios)) if len(ratios) > 1 else 0.0

    @property
    def cpu_added_us(self) -> float:
        return statistics.median(side.loop_cpu_us - base.loop_cpu_us for side, base in self.pairs)

    @property
    def p99_added_ms(self) -> float:
        return statistics.median(side.p99_ms - base.p99_ms for side, base in self.pairs)


@dataclass(frozen=True)
class Subject:
    """A Guidegate process of one variant, its URL and the two paths it is measured on."""

    variant: str
    process: Process
    url: str
    side_path: str
    base_path: str
    headers: tuple[str, ...]

    @property
    def side(self) -> str:
        return self.url + self.side_path

    @property
    def base(self) -> str:
        return self.url + self.base_path


def variant_env(variant: str) -> dict[str, str]:
    """Return the environment of a Guidegate process running `variant`."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(VARIANTS_FOLDER), env.get("PYTHONPATH"))))
    env[VARIANT_VARIABLE] = variant
    return env


def add_plain_app(document: dict[str, Any]) -> None:
    """Add a second app at PLAIN_PREFIX on the same upstream with injection off, and leave both apps without rules."""
    main = document["apps"][0]
    main["rules"] = []
    plain = {**main, "name": "plain", "path_prefix": PLAIN_PREFIX, "inject": {**main["inject"], "enabled": False}}
    document["apps"].append(plain)


def measure(subject: Subject, workdir: Path, seconds: float, first_side: bool) -> tuple[Run, Run]:
    """Load both URLs of `subject` one after the other and return the two runs as (side, base)."""
    runs: dict[str, Run] = {}
    for url in (subject.side, subject.base) if first_side else (subject.base, subject.side):
        bound = int(MAX_REQUESTS_PER_SECOND * seconds)
        started = main_thread_cpu_seconds(subject.process.pid)
        result = run_wrk(url, workdir, seconds=seconds, connections=CONNECTIONS, max_requests=bound, headers=subject.headers)
        cpu = main_thread_cpu_seconds(subject.process.pid) - started
        if result.errors:
            raise BenchError(f"wrk counted {result.errors} errors on {url}; see {subject.process.log}")
        if result.requests >= 0.95 * bound:
            raise BenchError(f"wrk reached its bound of {bound} requests on {url}")
        runs[url] = Run(result.requests_per_second, result.p99_ms, cpu * 1e6 / max(result.requests, 1))
    return runs[subject.side], runs[subject.base]


def alternate(subjects: Sequence[Subject], descriptions: dict[str, str], workdir: Path, pairs: int, seconds: float) -> list[Figures]:
    """Warm every subject up, then measure `pairs` pairs of each, rotating the order of subjects and sides."""
    for subject in subjects:
        for url in (subject.side, subject.base):
            run_wrk(url, workdir, seconds=1, connections=CONNECTIONS, max_requests=MAX_REQUESTS_PER_SECOND, headers=subject.headers)
    figures = {subject.variant: Figures(subject.variant, descriptions[subject.variant]) for subject in subjects}
    for index in range(pairs):
        shift = index % len(subjects)
        for subject in [*subjects[shift:], *subjects[:shift]]:
            figures[subject.variant].pairs.append(measure(subject, workdir, seconds, index % 2 == 0))
        print(f"bench.floors: pair {index + 1} of {pairs} done", file=sys.stderr)
    return [figures[subject.variant] for subject in subjects]


def check_injection(subject: Subject, page: bytes) -> None:
    """Fail unless the variant's injecting app injects exactly when it should and the plain app never does."""
    injects = subject.variant in ("product", "inject-minimal")
    for path, expected in ((subject.side_path, injects), (subject.base_path, False)):
        response = fetch(subject.url, path, NAVIGATION_HEADERS)
        injected = RUNTIME_FILE in response.body
        if response.status != 200 or injected != expected or (not injected and response.body != page):
            raise BenchError(
                f"variant {subject.variant}: {subject.url}{path} returned status {response.status} with the runtime "
                f"{'in' if injected else 'not in'} the page; expected 200 with it {'in' if expected else 'not in'} the page"
            )


def run_injection(group: ProcessGroup, upstream_url: str, fixtures_root: Path, pairs: int, seconds: float) -> list[Figures]:
    path = f"/pages/page-{PAGE_SIZES[PAGE]}.html"
    page = (fixtures_root / path.lstrip("/")).read_bytes()
    subjects = []
    for variant in INJECTION_VARIANTS:
        process, url = start_guidegate(
            group, f"floors-{variant}", upstream_url, edit=add_plain_app, env=variant_env(variant)
        )
        subject = Subject(variant, process, url, path, PLAIN_PREFIX.rstrip("/") + path, NAVIGATION_HEADERS)
        check_injection(subject, page)
        subjects.append(subject)
    return alternate(subjects, INJECTION_VARIANTS, group.workdir, pairs, seconds)


def run_capture(group: ProcessGroup, upstream_url: str, fixtures_root: Path, step_path: str, pairs: int, seconds: float) -> list[Figures]:
    shutil.copyfile(fixtures_root / step_path.lstrip("/"), fixtures_root / COPY_PATH.lstrip("/"))
    rules = write_rules(group.workdir / "floors-rules", step_path)
    subjects = []
    for variant in CAPTURE_VARIANTS:
        process, url = start_guidegate(group, f"floors-{variant}", upstream_url, rules=rules, env=variant_env(variant))
        cookie = visitor_cookie(url)
        subjects.append(Subject(variant, process, url, step_path, COPY_PATH, (f"Cookie: {cookie}",)))
    figures = alternate(subjects, CAPTURE_VARIANTS, group.workdir, pairs, seconds)
    for subject in subjects:
        check_capture(subject, group.workdir / f"floors-{subject.variant}" / "events.sqlite3")
    return figures


def check_capture(subject: Subject, database: Path) -> None:
    """Fail unless the shipped capture stored events and no variant stored any."""
    rows = count_events(database)
    stores = subject.variant == "product"
    if (rows > 0) != stores:
        expected = "some" if stores else "none"
        raise BenchError(f"variant {subject.variant}: the event store {database} contains {rows} events; expected {expected}")


def render(injection: list[Figures], capture: list[Figures], command: str, started: datetime.datetime, pairs: int, seconds: float) -> str:
    machine = describe_machine(None)
    lines = [
        "# Cost floors",
        "",
        "Generated by `bench/floors.py`; rerun it to refresh this page.",
        "",
        f"- Command: `{command}`",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC",
        f"- Machine: {machine.cpu}, {machine.cores} cores, {machine.memory_gib:.1f} GiB memory, Linux {machine.kernel}",
        f"- Pairs: {pairs} per variant, each two wrk runs of {seconds:g} s (one thread, {CONNECTIONS} connections), back to back",
        "",
        "Each variant runs in a Guidegate process of its own, which serves both sides of its comparison. The"
        " two runs of a pair go to one side and then the other, in alternating order, and the variants take turns."
        " The ratio is the side's req/s over the baseline's in the same pair; the table gives the median and the"
        " mean with its standard error over all pairs. CPU is the event loop thread's user plus system time per"
        " request (from /proc), side minus baseline, median over the pairs. The control's two sides do the same"
        " work, so its distance from 1 is the method's own error.",
    ]
    if injection:
        lines += [
            "",
            f"## Injection: {PAGE} page, injected vs passed through",
            "",
            f"Target of the main benchmark: injection at >= {INJECTION_TARGET:.0%} of passthrough req/s. Both apps have no rules.",
            "",
            "| variant | what it does | req/s ratio, median | mean ± SE | CPU µs added per page |",
            "| --- | --- | ---: | ---: | ---: |",
        ]
        lines += [_row(figures, with_p99=False) for figures in injection]
    if capture:
        lines += [
            "",
            f"## Capture: {CASE} workflow step vs the same file on a path no rule names",
            "",
            f"Target of the main benchmark: p99 latency added at full load <= {CAPTURE_TARGET_MS:g} ms. Requests carry a returning visitor's cookie.",
            "",
            "| variant | what it does | req/s ratio, median | mean ± SE | loop CPU µs added per request | p99 added, median |",
            "| --- | --- | ---: | ---: | ---: | ---: |",
        ]
        lines += [_row(figures, with_p99=True) for figures in capture]
    return "\n".join(lines) + "\n"


def _row(figures: Figures, *, with_p99: bool) -> str:
    cells = [
        f"`{figures.variant}`",
        figures.description,
        f"{figures.ratio_median:.3f}",
        f"{figures.ratio_mean:.3f} ± {figures.ratio_error:.3f}",
        f"{figures.cpu_added_us:+.1f}",
    ]
    if with_p99:
        cells.append(f"{figures.p99_added_ms:+.2f} ms")
    return "| " + " | ".join(cells) + " |"


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.floors", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pairs", type=int, default=20, help="pairs of runs per variant (default 20)")
    parser.add_argument("--seconds", type=int, default=2, help="length of each wrk run in whole seconds (default 2)")
    parser.add_argument("--only", choices=SECTIONS, help="measure only this section, and leave the other out of the report")
    parser.add_argument("--output", type=Path, default=REPORT, help=f"Markdown report to write (default {REPORT.relative_to(REPOSITORY)})")
    arguments = parser.parse_args(argv)
    if not 2 <= arguments.pairs <= 200:
        parser.error(f"invalid --pairs {arguments.pairs}; expected 2 to 200")
    if not 1 <= arguments.seconds <= 30:
        parser.error(f"invalid --seconds {arguments.seconds}; expected 1 to 30")
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    """Measure the sections and write the report. Return 0, or 1 when a step failed."""
    arguments = parse_arguments(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    command = shlex.join([".venv/bin/python", "-m", "bench.floors", *(sys.argv[1:] if argv is None else argv)])
    started = datetime.datetime.now(datetime.timezone.utc)
    workdir = Path(tempfile.mkdtemp(prefix="guidegate-floors-"))
    try:
        fixtures = write_fixtures(workdir / "files", 1024 * 1024)
        with ProcessGroup(workdir) as group:
            upstream = start_upstream(group, fixtures, 0.5)
            injection, capture = [], []
            if arguments.only in (None, "injection"):
                injection = run_injection(group, upstream.url, workdir / "files", arguments.pairs, arguments.seconds)
            if arguments.only in (None, "capture"):
                capture = run_capture(group, upstream.url, workdir / "files", fixtures.body_path(CASE), arguments.pairs, arguments.seconds)
    except (BenchError, sqlite3.Error) as error:
        print(f"bench.floors: {error}", file=sys.stderr)
        print(f"bench.floors: the servers' logs are in {workdir}", file=sys.stderr)
        return 1
    text = render(injection, capture, command, started, arguments.pairs, arguments.seconds)
    print(text)
    arguments.output.write_text(text, encoding="utf-8")
    print(f"bench.floors: wrote {arguments.output}", file=sys.stderr)
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
