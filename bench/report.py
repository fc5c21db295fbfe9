"""The report: Markdown tables of the medians, the machine they were measured on, and PASS or MISS per target."""

from __future__ import annotations

import datetime
import os
import platform
import re
import statistics
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.injection import INJECTION, SLOW
from bench.results import Results
from bench.profile import SAMPLE_RATE
from bench.scenarios import CORE, DOWNLOAD, FLOOR, GUIDEGATE, Settings
from bench.targets import Verdict, evaluate

Column = tuple[str, str, Callable[[float], str]]
"""A table column: heading, metric name, and how to format the metric's median."""


def _number(digits: int) -> Callable[[float], str]:
    return lambda value: f"{value:,.{digits}f}"


def _rate(value: float) -> str:
    """Format a request rate, keeping one decimal below 100 so that a slow target never reads as 0."""
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


LOAD_COLUMNS: list[Column] = [
    ("req/s", "rps", _rate),
    ("p50 ms", "p50_ms", _number(2)),
    ("p99 ms", "p99_ms", _number(2)),
    ("TTFB ms", "ttfb_ms", _number(3)),
    ("MB/s", "mbps", _number(1)),
    ("CPU µs/req", "cpu_us", _number(0)),
    ("peak RSS MB", "rss_mb", _number(1)),
    ("upstream CPU %", "upstream_cpu_pct", _number(0)),
    ("errors", "errors", _number(0)),
]
DOWNLOAD_COLUMNS: list[Column] = [
    ("MB/s", "mbps", _number(0)),
    ("CPU s", "cpu_s", _number(2)),
    ("peak RSS MB", "rss_mb", _number(1)),
    ("RSS growth MB", "rss_growth_mb", _number(1)),
]
INJECTION_COLUMNS: list[Column] = [
    ("req/s", "rps", _rate),
    ("p50 ms", "p50_ms", _number(2)),
    ("p99 ms", "p99_ms", _number(2)),
    ("MB/s", "mbps", _number(1)),
    ("CPU µs/req", "cpu_us", _number(0)),
    ("peak RSS MB", "rss_mb", _number(1)),
    ("errors", "errors", _number(0)),
]
SLOW_COLUMNS: list[Column] = [
    ("first byte ms", "ttfb_ms", _number(1)),
    ("head ms", "head_ms", _number(1)),
    ("whole page ms", "page_ms", _number(1)),
]


def _profile_intro(results: Results) -> str:
    ours = results.profile_cpu_us.get(GUIDEGATE, 0.0)
    floor = results.profile_cpu_us.get(FLOOR, 0.0)
    return (
        "Guidegate missed a target, so the harness sampled Guidegate and the bare forwarder with py-spy "
        f"({SAMPLE_RATE} samples per second, idle time left out) while wrk loaded each with the 2 KiB response, "
        "in three turns of 4 s each. "
        f"They spent {ours:.0f} and {floor:.0f} CPU µs per request during those runs. Each function's share of "
        "the samples is turned into µs per request: 'self' counts the samples in which the function itself was "
        "running (time in system calls included), 'inclusive' those in which it was anywhere on the stack. "
        "py-spy samples wall-clock time, so a process waiting for a CPU in the middle of a system call counts "
        "there too: with other load on the machine, the socket calls' share is an overestimate. "
        "Rows are the functions with the largest difference, then Guidegate's own functions of 2 µs or more."
    )


@dataclass(frozen=True)
class Machine:
    """The machine and software versions the figures were measured on."""

    cpu: str
    cores: int
    memory_gib: float
    kernel: str
    python: str
    aiohttp: str
    tools: dict[str, str]


def describe_machine(mitmdump: str | None) -> Machine:
    """Read the CPU model, core count, memory and kernel from /proc, and the versions of the tools used."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    meminfo = Path("/proc/meminfo").read_text()
    total = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.MULTILINE)
    tools = {
        "nginx": _version(["/usr/sbin/nginx", "-v"], r"nginx/(\S+)"),
        "wrk": _version(["/usr/bin/wrk", "-v"], r"wrk (\S+)"),
        "curl": _version(["/usr/bin/curl", "--version"], r"curl (\S+)"),
    }
    if mitmdump is not None:
        tools["mitmproxy"] = _version([mitmdump, "--version"], r"Mitmproxy: (\S+)")
    return Machine(
        cpu=model.group(1).strip() if model else platform.processor() or "unknown",
        cores=os.cpu_count() or 0,
        memory_gib=int(total.group(1)) / 1024 / 1024 if total else 0.0,
        kernel=platform.release(),
        python=platform.python_version(),
        aiohttp=aiohttp.__version__,
        tools=tools,
    )


def _version(command: list[str], pattern: str) -> str:
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return "not installed"
    found = re.search(pattern, completed.stdout + completed.stderr)
    return found.group(1) if found else "unknown"


def table(results: Results, section: str, case: str, columns: Sequence[Column]) -> str:
    """Return a Markdown table of one case: a row per target, a column per metric, medians over repeats."""
    headings = ["target", *(heading for heading, _, _ in columns)]
    lines = ["| " + " | ".join(headings) + " |", "| --- " + "| ---: " * len(columns) + "|"]
    for target in results.targets(section):
        cells = [target]
        for _, metric, render in columns:
            value = results.median(section, case, target, metric)
            cells.append("-" if value is None else render(value))
        if any(cell != "-" for cell in cells[1:]):
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdict_table(verdicts: Sequence[Verdict]) -> str:
    """Return the targets as a Markdown table."""
    lines = ["| target | required | median | per repeat | result |", "| --- | ---: | ---: | ---: | --- |"]
    for verdict in verdicts:
        lines.append(
            f"| {verdict.target} | {verdict.required} | {verdict.measured} | {verdict.per_repeat or '-'} | {verdict.label} |"
        )
    return "\n".join(lines)


def render(
    results: Results,
    settings: Settings,
    machine: Machine,
    command: str,
    started: datetime.datetime,
    method: str,
) -> str:
    """Return the whole report as Markdown."""
    parts = _heading(results, settings, machine, command, started)
    parts += ["", method, "", "## Targets", "", verdict_table(evaluate(results))]

    for case in results.cases(CORE):
        parts += ["", f"## {case} response", "", table(results, CORE, case, LOAD_COLUMNS)]
    for case in results.cases(DOWNLOAD):
        parts += ["", f"## {case} streamed download", "", table(results, DOWNLOAD, case, DOWNLOAD_COLUMNS)]
    if INJECTION in results.skipped:
        parts += ["", "## HTML injection", "", f"skipped: {results.skipped[INJECTION]}"]
    for case in results.cases(INJECTION):
        parts += ["", f"## HTML injection, {case} page", "", table(results, INJECTION, case, INJECTION_COLUMNS)]
    for case in results.cases(SLOW):
        parts += ["", f"## Slow page: head at once, {case}", "", table(results, SLOW, case, SLOW_COLUMNS)]

    for name, figures in results.extra.items():
        parts += ["", f"## {name}", "", "| figure | value |", "| --- | ---: |"]
        parts += [f"| {key} | {_cell(value)} |" for key, value in figures.items()]
    for name, reason in results.skipped.items():
        if name != INJECTION:
            parts += ["", f"## {name}", "", f"skipped: {reason}"]

    if results.profile:
        parts += ["", "## Where Guidegate spends its time", "", _profile_intro(results), ""]
        parts += [
            "| function | Guidegate self µs/req | bare forwarder self µs/req | difference | Guidegate inclusive µs/req |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for spot in results.profile:
            difference = spot.guidegate_self_us - spot.floor_self_us
            parts.append(
                f"| `{spot.function}` | {spot.guidegate_self_us:.1f} | {spot.floor_self_us:.1f} | {difference:+.1f} "
                f"| {spot.guidegate_inclusive_us:.1f} |"
            )
    notes = [*results.notes, *_load_notes(results, machine)]
    if notes:
        parts += ["", "## Notes", ""]
        parts += [f"- {note}" for note in notes]
    return "\n".join(parts) + "\n"


def _heading(
    results: Results, settings: Settings, machine: Machine, command: str, started: datetime.datetime
) -> list[str]:
    software = ", ".join(f"{name} {version}" for name, version in machine.tools.items())
    parts = [
        "# Benchmarks",
        "",
        "Generated by the harness in `bench/`; rerun it to refresh this page.",
        "",
        f"- Command: `{command}`",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC",
        f"- Machine: {machine.cpu}, {machine.cores} cores, {machine.memory_gib:.1f} GiB memory, Linux {machine.kernel}",
        f"- Software: Python {machine.python}, aiohttp {machine.aiohttp}, {software}",
        f"- Repeats: {settings.repeats}, interleaved (every target once per repeat, in a rotated order); "
        "each figure is the median over the repeats",
    ]
    if results.other_load:
        per_repeat = ", ".join(f"{share:.0%}" for share in results.other_load)
        parts.append(
            f"- Other load: processes outside the harness used about {statistics.mean(results.other_load):.0%} of the "
            f"machine's CPU time during the measurements (per repeat: {per_repeat}; estimated from /proc/stat)"
        )
    return parts


def _load_notes(results: Results, machine: Machine) -> list[str]:
    """Return the caveats that follow from the machine and its load during the run."""
    notes = []
    if results.targets(CORE) and machine.cores <= 2:
        notes.append(
            f"With {machine.cores} cores, wrk, the upstream nginx and the proxy share the CPU, so two Guidegate "
            "workers cannot each get a whole core; the --workers 2 ratio is bounded by that, not only by Guidegate."
        )
    other_load = statistics.mean(results.other_load) if results.other_load else 0.0
    if other_load >= 0.1:
        notes.append(
            f"Processes outside the harness took about {other_load:.0%} of the CPU during the measurements. Every "
            "proxy competed with them, which lowers the absolute figures; the ratios, taken within each repeat, "
            "suffer less, and the per-repeat column shows their spread."
        )
    return notes


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}"
    return str(value)
