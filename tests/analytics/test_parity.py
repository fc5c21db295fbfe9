"""The same random events give the same report on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime
import random
from pathlib import Path

import pytest
from conftest_pg import PostgresCluster

from proxy.analytics.reports import DAY, ReportQuery, build_report, day_start
from proxy.analytics.specs import FeatureSpec, GuideSpec, Specs, WorkflowSpec
from proxy.events import Event, PostgresStore, SqliteStore

START = day_start(datetime.date(2024, 5, 6))
SPECS = Specs(
    workflows=(
        WorkflowSpec("order", "Order", ("open", "lines", "submit"), "ordered", 1800.0, ("cancel",)),
        WorkflowSpec("approve", "Approve", ("inbox", "decide"), "strict", 600.0),
    ),
    features=(FeatureSpec("export", "Export"), FeatureSpec("print", "Print")),
    guides=(GuideSpec("tour", "Tour", ("order", "approve")),),
)
STEPS = [("order", step) for step in ("open", "lines", "submit", "cancel", "retired")] + [
    ("approve", step) for step in ("inbox", "decide")
]
ROLE_SETS = [(), ("clerk",), ("manager",), ("clerk", "manager")]


def random_events(count: int, seed: int) -> list[Event]:
    """Events of 40 visitors over 3 days, many at the same second, in a random order."""
    generator = random.Random(seed)
    events = []
    for _ in range(count):
        visitor = generator.randrange(40)
        moment = START + generator.randrange(3 * 86400 // 60) * 60.0
        draw = generator.random()
        common = {"time": moment, "app": "erp", "visitor": f"v{visitor}", "roles": ROLE_SETS[visitor % 4]}
        if draw < 0.7:
            workflow, step = generator.choice(STEPS)
            outcome = generator.choice(["success", "success", "success", "failure", "abandon", None])
            events.append(Event(**common, kind="workflow_step", name=workflow, step=step, outcome=outcome))  # type: ignore[arg-type]
        elif draw < 0.85:
            events.append(Event(**common, kind="feature", name=generator.choice(["export", "print"])))  # type: ignore[arg-type]
        else:
            kind = generator.choice(["guide_shown", "guide_dismissed", "help_opened", "help_requested"])
            events.append(Event(**common, kind=kind, name="tour" if kind.startswith("guide") else None))  # type: ignore[arg-type]
    return events


@pytest.mark.postgres
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_reports_equal_on_both_stores(postgres_cluster: PostgresCluster, tmp_path: Path, seed: int) -> None:
    events = random_events(3000, seed)
    sqlite = SqliteStore(tmp_path / "events.sqlite3")
    postgres = PostgresStore(await postgres_cluster.create_schema())
    reports = []
    for store in (sqlite, postgres):
        await store.open()
        try:
            for offset in range(0, len(events), 700):
                await store.write(events[offset : offset + 700])
            for role in (None, "clerk"):
                query = ReportQuery("erp", START, START + 2 * DAY, role=role, as_of=START + 2.5 * DAY)
                reports.append(await build_report(store, SPECS, query))
        finally:
            await store.close()
    assert reports[0].workflows[0].total.started > 50
    assert reports[0] == reports[2]
    assert reports[1] == reports[3]
