"""Event store benchmark: ingestion through the writer into SQLite, and a report over a million events.

Run alone with `.venv/bin/python -m bench.bench_events [--events N] [--ingest N]`; `run()` returns
the figures as a dict for the harness.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from proxy.analytics.reports import ReportQuery, build_report, day_start
from proxy.analytics.specs import FeatureSpec, GuideSpec, Specs, WorkflowSpec
from proxy.config.storage import StorageConfig
from proxy.events import Event, EventWriter, SqliteStore

APP = "erp"
FIRST_DAY = datetime.date(2024, 3, 1)
DAYS = 30
ROLE_SETS = (("clerk",), ("clerk",), ("manager",), ("clerk", "manager"), ("auditor",), ("approver", "manager"))

SPECS = Specs(
    workflows=(
        WorkflowSpec("purchase_order", "Raise a purchase order", ("open", "items", "supplier", "review", "submit"),
                     "ordered", 1800.0, ("cancel",)),
        WorkflowSpec("invoice", "Book an invoice", ("open", "lines", "post"), "ordered", 1800.0, ("discard",)),
        WorkflowSpec("approval", "Approve a request", ("inbox", "open", "approve"), "strict", 900.0),
        WorkflowSpec("vendor", "Create a vendor", ("open", "details", "bank", "save"), "ordered", 3600.0),
    ),
    features=tuple(FeatureSpec(f"feature_{index}", f"Feature {index}") for index in range(12)),
    guides=(
        GuideSpec("po_walkthrough", "Purchase order walkthrough", ("purchase_order",)),
        GuideSpec("invoice_tips", "Invoice tips", ("invoice",)),
        GuideSpec("vendor_banner", "New vendor form", ("vendor", "purchase_order")),
    ),
)


def synthetic_events(count: int, *, visitors: int = 2000, seed: int = 7) -> list[Event]:
    """Return about `count` events over DAYS days, time-ordered: workflow runs (completed,
    failed and retried, abandoned, cancelled), feature use, guide engagement and help."""
    generator = random.Random(seed)
    start = day_start(FIRST_DAY)
    span = DAYS * 86400.0
    people = [(f"v{index:05d}{generator.getrandbits(64):016x}", ROLE_SETS[index % len(ROLE_SETS)]) for index in range(visitors)]
    raw: list[tuple[float, int, str, str | None, str | None, str | None]] = []
    while len(raw) < count:
        person = generator.randrange(visitors)
        moment = start + generator.random() * span
        draw = generator.random()
        if draw < 0.25:
            raw.extend(_run(generator, person, moment))
        elif draw < 0.7:
            raw.append((moment, person, "feature", f"feature_{generator.randrange(12)}", None, None))
        elif draw < 0.93:
            guide = SPECS.guides[generator.randrange(len(SPECS.guides))].id
            kind = generator.choice(("guide_shown", "guide_shown", "guide_completed", "guide_dismissed", "target_missing"))
            raw.append((moment, person, kind, guide, None, None))
        else:
            raw.append((moment, person, generator.choice(("help_opened", "help_requested", "search")), None, None, None))
    raw = raw[:count]
    raw.sort(key=lambda item: item[0])
    return [
        Event(
            time=moment,
            app=APP,
            visitor=people[person][0],
            session=f"s{person}",
            roles=people[person][1],
            kind=kind,
            name=name,
            step=step,
            outcome=outcome,
            status=200 if kind == "workflow_step" else None,
        )
        for moment, person, kind, name, step, outcome in raw
    ]


def _run(
    generator: random.Random, person: int, moment: float
) -> Iterator[tuple[float, int, str, str | None, str | None, str | None]]:
    """Yield the step events of one attempt at a workflow."""
    spec = SPECS.workflows[generator.randrange(len(SPECS.workflows))]
    stop = len(spec.steps) if generator.random() < 0.7 else generator.randrange(1, len(spec.steps))
    for step in spec.steps[:stop]:
        moment += generator.uniform(5, 90)
        if generator.random() < 0.1:
            yield moment, person, "workflow_step", spec.id, step, "failure"
            moment += generator.uniform(5, 60)
        yield moment, person, "workflow_step", spec.id, step, "success"
    if stop < len(spec.steps) and spec.exclusions and generator.random() < 0.3:
        yield moment + 10, person, "workflow_step", spec.id, spec.exclusions[0], "success"


async def measure_ingestion(folder: Path, events: Sequence[Event]) -> dict[str, float]:
    """Submit events through an EventWriter into a fresh SQLite file as fast as the queue takes them."""
    config = StorageConfig(queue_size=10_000, batch_size=500, flush_interval=0.05)
    store = SqliteStore(folder / "ingest.sqlite3")
    writer = EventWriter(store, config)
    await writer.start()
    started = time.perf_counter()
    for index, event in enumerate(events):
        while writer.queued >= config.queue_size:
            await asyncio.sleep(0.001)
        writer.submit(event)
        if index % 256 == 0:
            await asyncio.sleep(0)
    await writer.flush(timeout=600)
    elapsed = time.perf_counter() - started
    stats = writer.stats()
    await writer.close()
    return {
        "ingest_events": float(len(events)),
        "ingest_seconds": elapsed,
        "ingest_events_per_second": len(events) / elapsed,
        "ingest_dropped": float(stats.dropped_queue_full),
    }


async def measure_paced(folder: Path, events: Sequence[Event], rate: float = 5000.0) -> dict[str, float]:
    """Submit events at a steady `rate` per second, in 10 ms ticks, and count what the writer drops."""
    config = StorageConfig(queue_size=10_000, batch_size=500, flush_interval=0.5)
    writer = EventWriter(SqliteStore(folder / "paced.sqlite3"), config)
    await writer.start()
    per_tick = int(rate / 100)
    started = time.perf_counter()
    deepest = 0
    for tick, offset in enumerate(range(0, len(events), per_tick)):
        for event in events[offset : offset + per_tick]:
            writer.submit(event)
        deepest = max(deepest, writer.queued)
        delay = started + (tick + 1) / 100 - time.perf_counter()
        await asyncio.sleep(max(delay, 0))
    submitted = time.perf_counter() - started
    await writer.flush(timeout=600)
    stats = writer.stats()
    await writer.close()
    return {
        "paced_rate": rate,
        "paced_events": float(len(events)),
        "paced_achieved_per_second": len(events) / submitted,
        "paced_dropped": float(stats.dropped_queue_full),
        "paced_max_queued": float(deepest),
    }


async def measure_report(folder: Path, events: Sequence[Event], repeats: int = 3) -> dict[str, float]:
    """Load the events into SQLite in large batches, then time the full report (median of `repeats`)."""
    store = SqliteStore(folder / "report.sqlite3")
    await store.open()
    load_started = time.perf_counter()
    for offset in range(0, len(events), 20_000):
        await store.write(events[offset : offset + 20_000])
    load_seconds = time.perf_counter() - load_started

    since = day_start(FIRST_DAY)
    query = ReportQuery(APP, since, since + DAYS * 86400.0, go_live=FIRST_DAY, as_of=since + (DAYS + 1) * 86400.0)
    timings = []
    cpu_times = []
    report = None
    for _ in range(repeats):
        started = time.perf_counter()
        cpu_started = time.process_time()
        report = await build_report(store, SPECS, query)
        timings.append(time.perf_counter() - started)
        # CPU time of every thread of the process, SQLite's included; unlike wall time it leaves
        # out the time spent waiting while other processes use the cores.
        cpu_times.append(time.process_time() - cpu_started)
    await store.close()

    assert report is not None
    runs = sum(workflow.total.started for workflow in report.workflows)
    return {
        "report_events": float(len(events)),
        "report_load_seconds": load_seconds,
        "report_seconds": statistics.median(timings),
        "report_seconds_max": max(timings),
        "report_cpu_seconds": statistics.median(cpu_times),
        "report_runs": float(runs),
        "report_visitors": float(report.active_visitors),
    }


def run(events: int = 1_000_000, ingest: int = 100_000) -> dict[str, float]:
    """Run the three measurements (ingestion, paced ingestion, report) in a temporary folder and
    return the figures."""
    with tempfile.TemporaryDirectory(prefix="guidegate-bench-events-") as name:
        folder = Path(name)
        generated = time.perf_counter()
        data = synthetic_events(max(events, ingest))
        figures = {"generate_seconds": time.perf_counter() - generated}
        figures.update(asyncio.run(measure_ingestion(folder, data[:ingest])))
        figures.update(asyncio.run(measure_paced(folder, data[:25_000])))
        figures.update(asyncio.run(measure_report(folder, data[:events])))
    return figures


def print_table(figures: dict[str, float]) -> None:
    """Print the figures as a two-column table."""
    width = max(len(name) for name in figures)
    for name, value in figures.items():
        shown = f"{value:,.0f}" if value >= 100 else f"{value:.3f}"
        print(f"{name:<{width}}  {shown:>14}")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments, run the benchmark and print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_events", description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the report database (default 1000000)")
    parser.add_argument("--ingest", type=int, default=100_000, help="events submitted through the writer (default 100000)")
    arguments = parser.parse_args(argv)
    print_table(run(arguments.events, arguments.ingest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
