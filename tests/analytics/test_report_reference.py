"""The whole report on both stores against a plain recomputation from the events read back one by one."""

from __future__ import annotations

import datetime
import math
import random

import pytest

from proxy.analytics.models import (
    Cohort,
    FeatureReport,
    GuideEffect,
    GuideReport,
    HelpWeek,
    Report,
    RoleActivity,
    RoleShare,
    UnusedFeatures,
    WorkflowReport,
)
from proxy.analytics.reports import DAY, WEEK, ReportQuery, build_report, day_start
from proxy.analytics.runs import Run
from proxy.analytics.specs import FeatureSpec, GuideSpec, Specs, WorkflowSpec
from proxy.events import Event, EventStore

from .reference import reference_funnel, reference_runs, runs_of_role

GO_LIVE = datetime.date(2024, 4, 1)
SINCE = day_start(datetime.date(2024, 4, 10))
UNTIL = SINCE + 6 * DAY
AS_OF = UNTIL + 2 * 3600
SPECS = Specs(
    workflows=(
        WorkflowSpec("order", "Order", ("open", "lines", "submit"), "ordered", 3600.0, ("cancel",)),
        WorkflowSpec("approve", "Approve", ("inbox", "decide"), "strict", 900.0),
    ),
    features=(FeatureSpec("export", "Export"), FeatureSpec("print", "Print"), FeatureSpec("archive", "Archive")),
    guides=(GuideSpec("tour", "Tour", ("order", "approve")), GuideSpec("tip", "Tip", ("approve",))),
)
STEPS = [("order", step) for step in ("open", "lines", "submit", "cancel", "retired")] + [
    ("approve", step) for step in ("inbox", "decide")
] + [("legacy", "open")]
ROLE_SETS = [(), ("clerk",), ("manager",), ("clerk", "manager"), ("auditor",)]
KINDS = ["guide_shown", "guide_completed", "guide_dismissed", "target_missing", "help_opened", "help_requested", "search"]


def random_events(count: int, seed: int) -> list[Event]:
    """Events of 25 visitors from go-live to after the period, many at the same minute, in random order.

    A visitor's roles change now and then, so the role union over a period matters.
    """
    generator = random.Random(seed)
    start = day_start(GO_LIVE)
    span = UNTIL + 3 * 3600 - start
    events = []
    for _ in range(count):
        visitor = generator.randrange(25)
        roles = ROLE_SETS[(visitor + (generator.random() < 0.1)) % len(ROLE_SETS)]
        moment = start + generator.randrange(int(span // 60)) * 60.0
        common = {"time": moment, "app": "erp", "visitor": f"v{visitor}", "roles": roles}
        draw = generator.random()
        if draw < 0.6:
            workflow, step = generator.choice(STEPS)
            outcome = generator.choice(["success", "success", "success", "failure", "abandon", None])
            events.append(Event(**common, kind="workflow_step", name=workflow, step=step, outcome=outcome))  # type: ignore[arg-type]
        elif draw < 0.75:
            events.append(Event(**common, kind="feature", name=generator.choice(["export", "print", "other"])))  # type: ignore[arg-type]
        else:
            kind = generator.choice(KINDS)
            name = generator.choice(["tour", "tip"]) if kind.startswith("guide") or kind == "target_missing" else None
            events.append(Event(**common, kind=kind, name=name))  # type: ignore[arg-type]
    return events


def union_roles(events: list[Event], since: float, until: float) -> dict[str, tuple[str, ...]]:
    roles: dict[str, set[str]] = {}
    for event in events:
        if since <= event.time < until:
            roles.setdefault(event.visitor, set()).update(event.roles)
    return {visitor: tuple(sorted(role_set)) for visitor, role_set in roles.items()}


def cohort(runs: list[Run]) -> Cohort:
    completed = sum(1 for run in runs if run.status == "completed")
    failed = sum(1 for run in runs if run.failures)
    return Cohort(
        visitors=len({run.visitor for run in runs}),
        runs=len(runs),
        completed=completed,
        conversion=completed / len(runs) if runs else None,
        failed_runs=failed,
        failure_rate=failed / len(runs) if runs else None,
    )


def expected_report(events: list[Event], query: ReportQuery) -> Report:
    """Recompute the report from events sorted by time (then by write order)."""
    in_period = [event for event in events if query.since <= event.time < query.until]
    visitor_roles = union_roles(events, query.since, query.until)
    if query.role is not None:
        visitor_roles = {visitor: roles for visitor, roles in visitor_roles.items() if query.role in roles}
        roles = [query.role]
    else:
        roles = sorted({role for role_set in visitor_roles.values() for role in role_set})
    members = set(visitor_roles)
    counted = [event for event in in_period if query.role is None or event.visitor in members]

    longest = max(spec.window_seconds for spec in SPECS.workflows)
    steps = [
        (event.time, event.visitor, event.name, event.step, event.outcome)
        for event in events
        if event.kind == "workflow_step" and query.since <= event.time < query.until + longest
    ]
    runs = reference_runs(steps, SPECS.workflows, query.until, AS_OF)  # type: ignore[arg-type]
    if query.role is not None:
        runs = [run for run in runs if run.visitor in members]
    workflows = tuple(
        WorkflowReport(
            id=spec.id,
            title=spec.title,
            order=spec.order,
            window_seconds=spec.window_seconds,
            total=reference_funnel(None, spec.steps, [run for run in runs if run.workflow == spec.id]),
            by_role=tuple(
                reference_funnel(role, spec.steps, runs_of_role([run for run in runs if run.workflow == spec.id], visitor_roles, role))
                for role in roles
            ),
        )
        for spec in SPECS.workflows
    )

    active = {role: sum(1 for role_set in visitor_roles.values() if role in role_set) for role in roles}
    features = []
    unused: dict[str, list[str]] = {role: [] for role in roles}
    for spec in SPECS.features:
        uses = [event for event in counted if event.kind == "feature" and event.name == spec.id]
        users = {event.visitor for event in uses}
        shares = []
        for role in roles:
            role_users = sum(1 for visitor in users if role in visitor_roles[visitor])
            shares.append(RoleShare(role, role_users, active[role], role_users / active[role] if active[role] else None))
            if role_users == 0 and active[role]:
                unused[role].append(spec.id)
        features.append(
            FeatureReport(
                id=spec.id,
                title=spec.title,
                events=len(uses),
                users=len(users),
                active=len(visitor_roles),
                share=len(users) / len(visitor_roles) if visitor_roles else None,
                by_role=tuple(shares),
            )
        )

    guides = []
    for guide in SPECS.guides:
        def total(kind: str, guide_id: str = guide.id) -> int:
            return sum(1 for event in counted if event.kind == kind and event.name == guide_id)

        viewers = {event.visitor for event in counted if event.kind == "guide_shown" and event.name == guide.id}
        effects = tuple(
            GuideEffect(
                workflow=workflow,
                saw=cohort([run for run in runs if run.workflow == workflow and run.visitor in viewers]),
                did_not_see=cohort([run for run in runs if run.workflow == workflow and run.visitor not in viewers]),
            )
            for workflow in guide.workflows
        )
        guides.append(
            GuideReport(
                id=guide.id,
                title=guide.title,
                shown=total("guide_shown"),
                viewers=len(viewers),
                completed=total("guide_completed"),
                dismissed=total("guide_dismissed"),
                target_missing=total("target_missing"),
                effects=effects,
            )
        )

    help_start = day_start(GO_LIVE)
    help_members = members
    if query.role is not None:
        help_members = {visitor for visitor, role_set in union_roles(events, help_start, query.until).items() if query.role in role_set}
    weeks = math.ceil((query.until - help_start) / WEEK)
    help_weeks = []
    for week in range(weeks):
        week_events = [
            event
            for event in events
            if event.kind in ("help_opened", "help_requested")
            and help_start + week * WEEK <= event.time < min(help_start + (week + 1) * WEEK, query.until)
            and (query.role is None or event.visitor in help_members)
        ]
        help_weeks.append(
            HelpWeek(week + 1, GO_LIVE + datetime.timedelta(days=7 * week), len(week_events), len({event.visitor for event in week_events}))
        )

    return Report(
        app=query.app,
        since=query.since,
        until=query.until,
        as_of=AS_OF,
        role=query.role,
        workflow=None,
        go_live=GO_LIVE,
        active_visitors=len(visitor_roles),
        roles=tuple(RoleActivity(role, active[role]) for role in roles),
        workflows=workflows,
        features=tuple(features),
        unused_features=tuple(UnusedFeatures(role, tuple(unused[role])) for role in roles if unused[role]),
        guides=tuple(guides),
        help=tuple(help_weeks),
    )


@pytest.mark.parametrize("seed", [pytest.param(seed, id=f"seed-{seed}") for seed in (4, 5)])
async def test_report_matches_reference(store: EventStore, seed: int) -> None:
    events = random_events(4000, seed)
    for offset in range(0, len(events), 500):
        await store.write(events[offset : offset + 500])
    stored = await store.read_events("erp", day_start(GO_LIVE), UNTIL + DAY)
    for role in (None, "clerk"):
        query = ReportQuery("erp", SINCE, UNTIL, role=role, go_live=GO_LIVE, as_of=AS_OF)
        report = await build_report(store, SPECS, query)
        assert report.workflows[0].total.started > 20
        assert report == expected_report(stored, query)
