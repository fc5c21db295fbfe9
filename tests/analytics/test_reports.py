"""Ground truth: scripted visitors produce events, and every number of the report is checked, on both stores."""

from __future__ import annotations

import datetime

import pytest

from proxy.analytics.models import (
    Cohort,
    FeatureReport,
    Funnel,
    GuideEffect,
    GuideReport,
    HelpWeek,
    Report,
    RoleActivity,
    RoleShare,
    StepStats,
    UnusedFeatures,
)
from proxy.analytics.reports import DAY, ReportError, ReportQuery, build_report, day_start
from proxy.analytics.specs import FeatureSpec, GuideSpec, Specs, WorkflowSpec
from proxy.events import Event, EventStore

GO_LIVE = datetime.date(2024, 2, 26)
T0 = day_start(datetime.date(2024, 3, 4))
UNTIL = T0 + 7 * DAY
AS_OF = UNTIL + 300

SPECS = Specs(
    workflows=(
        WorkflowSpec("po", "Raise a purchase order", ("open", "items", "submit"), "ordered", 600.0, ("cancel",)),
        WorkflowSpec("approve", "Approve a request", ("inbox", "open", "approve"), "strict", 300.0),
    ),
    features=(FeatureSpec("export", "Export"), FeatureSpec("search_adv", "Advanced search"), FeatureSpec("bulk_edit", "Bulk edit")),
    guides=(
        GuideSpec("po_tour", "Purchase order tour", ("po",)),
        GuideSpec("approve_tip", "Approval tip", ("approve",)),
    ),
)

ROLES = {
    "alice": ("clerk",),
    "bob": ("clerk",),
    "carol": ("clerk", "manager"),
    "dave": ("manager",),
    "erin": ("manager",),
    "frank": ("clerk",),
    "gina": ("auditor",),
    "hank": ("clerk",),
    "judy": ("manager",),
    "ivan": ("clerk",),
}


def at(time: float, visitor: str, kind: str, name: str | None = None, step: str | None = None, outcome: str | None = None) -> Event:
    return Event(time=time, app="erp", visitor=visitor, roles=ROLES[visitor], kind=kind, name=name, step=step, outcome=outcome)


def po(time: float, visitor: str, step: str, outcome: str = "success") -> Event:
    return at(time, visitor, "workflow_step", "po", step, outcome)


def approve(time: float, visitor: str, step: str, outcome: str = "success") -> Event:
    return at(time, visitor, "workflow_step", "approve", step, outcome)


SCRIPT = [
    # alice saw the tour, then raised an order in 120 s.
    at(T0 + 90, "alice", "guide_shown", "po_tour"),
    at(T0 + 95, "alice", "guide_completed", "po_tour"),
    po(T0 + 100, "alice", "open"),
    po(T0 + 160, "alice", "items"),
    po(T0 + 220, "alice", "submit"),
    at(T0 + 300, "alice", "feature", "export"),
    at(T0 + 310, "alice", "feature", "export"),
    # bob failed validation once, then completed in 150 s.
    po(T0 + 1000, "bob", "open"),
    po(T0 + 1060, "bob", "items"),
    po(T0 + 1100, "bob", "submit", "failure"),
    po(T0 + 1150, "bob", "submit"),
    at(T0 + 1200, "bob", "feature", "export"),
    # carol (two roles) dismissed the tour and abandoned at step 2.
    at(T0 + 1990, "carol", "guide_shown", "po_tour"),
    at(T0 + 1995, "carol", "guide_dismissed", "po_tour"),
    po(T0 + 2000, "carol", "open"),
    po(T0 + 2050, "carol", "items"),
    at(T0 + 2100, "carol", "feature", "bulk_edit"),
    # dave's tour could not find its target; he cancelled his order.
    at(T0 + 2990, "dave", "target_missing", "po_tour"),
    po(T0 + 3000, "dave", "open"),
    po(T0 + 3030, "dave", "cancel"),
    # erin approved once in strict order, then skipped a step the second time.
    approve(T0 + 4000, "erin", "inbox"),
    approve(T0 + 4010, "erin", "open"),
    approve(T0 + 4020, "erin", "approve"),
    approve(T0 + 5000, "erin", "inbox"),
    approve(T0 + 5010, "erin", "approve"),
    # frank left a strict approval for an order, which he abandoned at its first step.
    approve(T0 + 6000, "frank", "inbox"),
    po(T0 + 6005, "frank", "open"),
    at(T0 + 7000, "frank", "help_requested"),
    # gina only asked for help and searched.
    at(T0 - 3 * DAY, "gina", "help_opened"),
    at(T0 + 500, "gina", "help_opened"),
    at(T0 + 600, "gina", "search"),
    # hank started just before the end of the period and finished after it.
    po(UNTIL - 60, "hank", "open"),
    po(UNTIL + 30, "hank", "items"),
    po(UNTIL + 100, "hank", "submit"),
    # judy's run is still within its window when the report is made.
    po(UNTIL - 100, "judy", "open"),
    po(UNTIL - 50, "judy", "items"),
    # ivan started after the period: not counted anywhere.
    po(UNTIL + 10, "ivan", "open"),
]


def steps(*rows: tuple[str, int, int, int, int]) -> tuple[StepStats, ...]:
    return tuple(StepStats(*row) for row in rows)


PO_ALL = Funnel(
    role=None, started=7, completed=3, abandoned=3, cancelled=1, open=1, failed_runs=1,
    conversion=3 / 7, median_seconds=150.0, p90_seconds=160.0,
    steps=steps(("open", 7, 7, 0, 2), ("items", 5, 5, 0, 1), ("submit", 3, 3, 1, 0)),
)
PO_AUDITOR = Funnel(
    role="auditor", started=0, completed=0, abandoned=0, cancelled=0, open=0, failed_runs=0,
    conversion=None, median_seconds=None, p90_seconds=None,
    steps=steps(("open", 0, 0, 0, 0), ("items", 0, 0, 0, 0), ("submit", 0, 0, 0, 0)),
)
PO_CLERK = Funnel(
    role="clerk", started=5, completed=3, abandoned=2, cancelled=0, open=0, failed_runs=1,
    conversion=0.6, median_seconds=150.0, p90_seconds=160.0,
    steps=steps(("open", 5, 5, 0, 1), ("items", 4, 4, 0, 1), ("submit", 3, 3, 1, 0)),
)
PO_MANAGER = Funnel(
    role="manager", started=3, completed=0, abandoned=2, cancelled=1, open=1, failed_runs=0,
    conversion=0.0, median_seconds=None, p90_seconds=None,
    steps=steps(("open", 3, 3, 0, 1), ("items", 2, 2, 0, 1), ("submit", 0, 0, 0, 0)),
)
APPROVE_ALL = Funnel(
    role=None, started=3, completed=1, abandoned=2, cancelled=0, open=0, failed_runs=0,
    conversion=1 / 3, median_seconds=20.0, p90_seconds=20.0,
    steps=steps(("inbox", 3, 3, 0, 2), ("open", 1, 1, 0, 0), ("approve", 1, 1, 0, 0)),
)
APPROVE_AUDITOR = Funnel(
    role="auditor", started=0, completed=0, abandoned=0, cancelled=0, open=0, failed_runs=0,
    conversion=None, median_seconds=None, p90_seconds=None,
    steps=steps(("inbox", 0, 0, 0, 0), ("open", 0, 0, 0, 0), ("approve", 0, 0, 0, 0)),
)
APPROVE_CLERK = Funnel(
    role="clerk", started=1, completed=0, abandoned=1, cancelled=0, open=0, failed_runs=0,
    conversion=0.0, median_seconds=None, p90_seconds=None,
    steps=steps(("inbox", 1, 1, 0, 1), ("open", 0, 0, 0, 0), ("approve", 0, 0, 0, 0)),
)
APPROVE_MANAGER = Funnel(
    role="manager", started=2, completed=1, abandoned=1, cancelled=0, open=0, failed_runs=0,
    conversion=0.5, median_seconds=20.0, p90_seconds=20.0,
    steps=steps(("inbox", 2, 2, 0, 1), ("open", 1, 1, 0, 0), ("approve", 1, 1, 0, 0)),
)


@pytest.fixture
async def scripted(store: EventStore) -> EventStore:
    """The store with the script's events written in two batches."""
    await store.write(SCRIPT[:20])
    await store.write(SCRIPT[20:])
    return store


async def report_of(store: EventStore, **changes: object) -> Report:
    fields: dict[str, object] = {"app": "erp", "since": T0, "until": UNTIL, "go_live": GO_LIVE, "as_of": AS_OF, **changes}
    query = ReportQuery(**fields)  # type: ignore[arg-type]
    return await build_report(store, SPECS, query)


async def test_report_header(scripted: EventStore) -> None:
    report = await report_of(scripted)
    assert (report.app, report.since, report.until, report.as_of) == ("erp", T0, UNTIL, AS_OF)
    assert (report.role, report.workflow, report.go_live) == (None, None, GO_LIVE)
    assert report.active_visitors == 9
    assert report.roles == (RoleActivity("auditor", 1), RoleActivity("clerk", 5), RoleActivity("manager", 4))


async def test_report_workflow_funnels(scripted: EventStore) -> None:
    report = await report_of(scripted)
    po_report, approve_report = report.workflows
    assert (po_report.id, po_report.title, po_report.order, po_report.window_seconds) == (
        "po", "Raise a purchase order", "ordered", 600.0
    )
    assert po_report.total == PO_ALL
    assert po_report.by_role == (PO_AUDITOR, PO_CLERK, PO_MANAGER)
    assert (approve_report.id, approve_report.order) == ("approve", "strict")
    assert approve_report.total == APPROVE_ALL
    assert approve_report.by_role == (APPROVE_AUDITOR, APPROVE_CLERK, APPROVE_MANAGER)


async def test_report_features(scripted: EventStore) -> None:
    report = await report_of(scripted)
    assert report.features == (
        FeatureReport("export", "Export", events=3, users=2, active=9, share=2 / 9, by_role=(
            RoleShare("auditor", 0, 1, 0.0), RoleShare("clerk", 2, 5, 0.4), RoleShare("manager", 0, 4, 0.0),
        )),
        FeatureReport("search_adv", "Advanced search", events=0, users=0, active=9, share=0.0, by_role=(
            RoleShare("auditor", 0, 1, 0.0), RoleShare("clerk", 0, 5, 0.0), RoleShare("manager", 0, 4, 0.0),
        )),
        FeatureReport("bulk_edit", "Bulk edit", events=1, users=1, active=9, share=1 / 9, by_role=(
            RoleShare("auditor", 0, 1, 0.0), RoleShare("clerk", 1, 5, 0.2), RoleShare("manager", 1, 4, 0.25),
        )),
    )
    assert report.unused_features == (
        UnusedFeatures("auditor", ("export", "search_adv", "bulk_edit")),
        UnusedFeatures("clerk", ("search_adv",)),
        UnusedFeatures("manager", ("export", "search_adv")),
    )


async def test_report_guides(scripted: EventStore) -> None:
    report = await report_of(scripted)
    assert report.guides == (
        GuideReport(
            "po_tour", "Purchase order tour", shown=2, viewers=2, completed=1, dismissed=1, target_missing=1,
            effects=(
                GuideEffect(
                    "po",
                    saw=Cohort(visitors=2, runs=2, completed=1, conversion=0.5, failed_runs=0, failure_rate=0.0),
                    did_not_see=Cohort(visitors=5, runs=5, completed=2, conversion=0.4, failed_runs=1, failure_rate=0.2),
                ),
            ),
        ),
        GuideReport(
            "approve_tip", "Approval tip", shown=0, viewers=0, completed=0, dismissed=0, target_missing=0,
            effects=(
                GuideEffect(
                    "approve",
                    saw=Cohort(visitors=0, runs=0, completed=0, conversion=None, failed_runs=0, failure_rate=None),
                    did_not_see=Cohort(visitors=2, runs=3, completed=1, conversion=1 / 3, failed_runs=0, failure_rate=0.0),
                ),
            ),
        ),
    )


async def test_report_help_per_week(scripted: EventStore) -> None:
    report = await report_of(scripted)
    assert report.help == (
        HelpWeek(1, datetime.date(2024, 2, 26), requests=1, visitors=1),
        HelpWeek(2, datetime.date(2024, 3, 4), requests=2, visitors=2),
    )


async def test_report_help_without_go_live(scripted: EventStore) -> None:
    report = await report_of(scripted, go_live=None)
    assert report.help == (HelpWeek(1, datetime.date(2024, 3, 4), requests=2, visitors=2),)


async def test_report_for_one_role(scripted: EventStore) -> None:
    report = await report_of(scripted, role="manager")
    assert report.active_visitors == 4
    assert report.roles == (RoleActivity("manager", 4),)
    po_report, approve_report = report.workflows
    assert po_report.total == Funnel(**{**PO_MANAGER.__dict__, "role": None})
    assert po_report.by_role == (PO_MANAGER,)
    assert approve_report.total == Funnel(**{**APPROVE_MANAGER.__dict__, "role": None})
    assert [(feature.id, feature.users, feature.active, feature.share) for feature in report.features] == [
        ("export", 0, 4, 0.0),
        ("search_adv", 0, 4, 0.0),
        ("bulk_edit", 1, 4, 0.25),
    ]
    assert report.unused_features == (UnusedFeatures("manager", ("export", "search_adv")),)
    tour = report.guides[0]
    assert (tour.shown, tour.viewers, tour.completed, tour.dismissed, tour.target_missing) == (1, 1, 0, 1, 1)
    assert tour.effects == (
        GuideEffect(
            "po",
            saw=Cohort(visitors=1, runs=1, completed=0, conversion=0.0, failed_runs=0, failure_rate=0.0),
            did_not_see=Cohort(visitors=2, runs=2, completed=0, conversion=0.0, failed_runs=0, failure_rate=0.0),
        ),
    )
    assert report.help == (
        HelpWeek(1, datetime.date(2024, 2, 26), requests=0, visitors=0),
        HelpWeek(2, datetime.date(2024, 3, 4), requests=0, visitors=0),
    )


async def test_report_for_one_workflow(scripted: EventStore) -> None:
    report = await report_of(scripted, workflow="approve")
    assert [workflow.id for workflow in report.workflows] == ["approve"]
    assert report.workflows[0].total == APPROVE_ALL
    assert report.guides[0].effects == ()
    assert [effect.workflow for effect in report.guides[1].effects] == ["approve"]


async def test_report_open_runs_close_later(scripted: EventStore) -> None:
    report = await report_of(scripted, as_of=UNTIL + DAY)
    total = report.workflows[0].total
    assert (total.open, total.abandoned, total.steps[1].stopped) == (0, 4, 2)


async def test_report_unknown_workflow(scripted: EventStore) -> None:
    with pytest.raises(ReportError) as caught:
        await report_of(scripted, workflow="refund")
    assert str(caught.value) == "unknown workflow 'refund'; expected one of: po, approve"


async def test_report_empty_period(scripted: EventStore) -> None:
    query = ReportQuery(app="erp", since=T0, until=T0)
    with pytest.raises(ReportError) as caught:
        await build_report(scripted, SPECS, query)
    assert str(caught.value) == (
        f"the report period is empty (since {T0} is not before until {T0}); expected since < until"
    )


async def test_report_without_specs(scripted: EventStore) -> None:
    report = await build_report(scripted, Specs(), ReportQuery("erp", T0, UNTIL, as_of=AS_OF))
    assert (report.workflows, report.features, report.unused_features, report.guides) == ((), (), (), ())
    assert report.active_visitors == 9
