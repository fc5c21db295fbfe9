"""Build the adoption report of one app and period from an event store."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import gc
import logging
import math
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from proxy.analytics.funnels import CountsByVisitor, FunnelTracker, ratio, workflow_report
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
)
from proxy.analytics.specs import Specs, WorkflowSpec
from proxy.errors import GuidegateError
from proxy.events.model import decode_roles
from proxy.events.store import EventStore, NameCountRow, TimeRow, VisitorRolesRow

logger = logging.getLogger(__name__)

DAY = 86400.0
WEEK = 7 * DAY
GUIDE_KINDS = ("guide_shown", "guide_completed", "guide_dismissed", "target_missing")
HELP_KINDS = ("help_opened", "help_requested")
STEP_PAGE_SIZE = 4000
"""Step rows per page. In bench/bench_events.py pages of 4,000 made the whole report about 7 % faster
than pages of 1,000, because the event loop and SQLite's thread hand over less often."""


class ReportError(GuidegateError):
    """A report was requested with arguments that no report can satisfy."""


@dataclass(frozen=True)
class ReportQuery:
    """Parameters of one report. Times are UTC epoch seconds, and `until` is exclusive.

    `as_of` (default: now) decides which runs are still open. `go_live` starts the weekly help
    trend; without it the trend starts at `since`.
    """

    app: str
    since: float
    until: float
    role: str | None = None
    workflow: str | None = None
    go_live: datetime.date | None = None
    as_of: float | None = None


def day_start(day: datetime.date) -> float:
    """UTC epoch seconds of a day's midnight (UTC)."""
    return datetime.datetime.combine(day, datetime.time(), datetime.timezone.utc).timestamp()


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a report builds millions of short-lived tuples.

    Reference counting frees each row and run. Left on, the collector rescans the growing set of
    live rows again and again: in bench/bench_events.py that doubled the time to rebuild the runs.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


async def build_report(store: EventStore, specs: Specs, query: ReportQuery) -> Report:
    """Query the store and compute the report.

    Raises ReportError for an empty period or a workflow filter that names no workflow in `specs`,
    and StoreError when the store fails. The work is cut into short steps on the event loop and
    one final step in a worker thread, so the loop keeps serving requests meanwhile. The garbage
    collector is paused for the whole process until the report is done (see `paused_gc`).
    """
    with paused_gc():
        return await _build(store, specs, query)


async def _build(store: EventStore, specs: Specs, query: ReportQuery) -> Report:
    if not query.until > query.since:
        raise ReportError(
            f"the report period is empty (since {query.since} is not before until {query.until}); "
            "expected since < until"
        )
    workflows = specs.workflows
    if query.workflow is not None:
        workflows = tuple(spec for spec in specs.workflows if spec.id == query.workflow)
        if not workflows:
            known = ", ".join(spec.id for spec in specs.workflows) or "none"
            raise ReportError(f"unknown workflow '{query.workflow}'; expected one of: {known}")
    as_of = time.time() if query.as_of is None else query.as_of
    started = time.perf_counter()
    help_start = _help_start(query)

    # The three queries run while the runs are rebuilt from the step stream: on SQLite each in a
    # thread of its own, on PostgreSQL each on its own pool connection.
    tasks = (
        asyncio.ensure_future(store.visitor_roles(query.app, query.since, query.until)),
        asyncio.ensure_future(store.name_counts(query.app, ("feature", *GUIDE_KINDS), query.since, query.until)),
        asyncio.ensure_future(store.event_times(query.app, HELP_KINDS, help_start, query.until)),
        asyncio.ensure_future(_runs(store, specs.workflows, query, as_of)),
    )
    try:
        role_rows, counts, help_rows, runs_by_workflow = await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        raise
    help_members = None
    if query.role is not None and help_start < query.since:
        # The help trend reaches back before the period, so its visitors' roles come from there.
        wider = _union_roles(await store.visitor_roles(query.app, help_start, query.until))
        help_members = {visitor for visitor, role_set in wider.items() if query.role in role_set}

    report = await asyncio.to_thread(
        _assemble,
        specs,
        query,
        workflows,
        as_of,
        role_rows,
        counts,
        help_start,
        help_rows,
        help_members,
        runs_by_workflow,
    )
    logger.info(
        "report for app %s built in %.3fs: %d visitors, %d runs",
        query.app,
        time.perf_counter() - started,
        report.active_visitors,
        sum(counted.runs for by_visitor in runs_by_workflow.values() for counted in by_visitor.values()),
    )
    return report


def _assemble(
    specs: Specs,
    query: ReportQuery,
    workflows: Sequence[WorkflowSpec],
    as_of: float,
    role_rows: Sequence[VisitorRolesRow],
    counts: Sequence[NameCountRow],
    help_start: float,
    help_rows: Sequence[TimeRow],
    help_members: set[str] | None,
    runs_by_workflow: Mapping[str, CountsByVisitor],
) -> Report:
    """Compute the report from the rows read and the runs counted (CPU work, run in a thread)."""
    visitor_roles = _union_roles(role_rows)
    if query.role is not None:
        visitor_roles = {visitor: roles for visitor, roles in visitor_roles.items() if query.role in roles}
        runs_by_workflow = {
            workflow: {visitor: counted for visitor, counted in by_visitor.items() if visitor in visitor_roles}
            for workflow, by_visitor in runs_by_workflow.items()
        }
        counts = [row for row in counts if row[2] in visitor_roles]
        members = set(visitor_roles) if help_members is None else help_members
        help_rows = [row for row in help_rows if row[1] in members]
        roles = [query.role]
    else:
        roles = sorted({role for role_set in visitor_roles.values() for role in role_set})

    features, unused = _features(specs, counts, visitor_roles, roles)
    return Report(
        app=query.app,
        since=query.since,
        until=query.until,
        as_of=as_of,
        role=query.role,
        workflow=query.workflow,
        go_live=query.go_live,
        active_visitors=len(visitor_roles),
        roles=tuple(
            RoleActivity(role, sum(1 for role_set in visitor_roles.values() if role in role_set)) for role in roles
        ),
        workflows=tuple(
            workflow_report(spec, runs_by_workflow.get(spec.id, {}), visitor_roles, roles) for spec in workflows
        ),
        features=features,
        unused_features=unused,
        guides=_guides(specs, counts, runs_by_workflow, {spec.id for spec in workflows}),
        help=_help(query, help_start, help_rows),
    )


def _union_roles(rows: Iterable[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    """Map each visitor to the union of the roles on their events."""
    decoded: dict[str, tuple[str, ...]] = {}
    merged: dict[str, tuple[str, ...]] = {}
    for visitor, text in rows:
        roles = decoded.get(text)
        if roles is None:
            roles = decoded[text] = decode_roles(text)
        previous = merged.get(visitor)
        merged[visitor] = roles if previous is None else tuple(sorted(set(previous) | set(roles)))
    return merged


async def _runs(
    store: EventStore, specs: Sequence[WorkflowSpec], query: ReportQuery, as_of: float
) -> dict[str, CountsByVisitor]:
    """Count every workflow's runs started in the period, followed to the end of their window."""
    if not specs:
        return {}
    longest = max(spec.window_seconds for spec in specs)
    tracker = FunnelTracker(specs, query.until)
    # Pages keep each feed call short (about 2 ms for 4,000 rows), so the event loop serves other
    # requests in between. The next page is read only afterwards: reading it meanwhile in
    # SQLite's thread would make the two threads contend for the GIL at every row.
    pages = store.coded_step_rows(query.app, query.since, query.until + longest, tracker.coding, STEP_PAGE_SIZE)
    async for page in pages:
        tracker.feed_coded(page)
    return tracker.finish(as_of)


def _features(
    specs: Specs,
    counts: Sequence[NameCountRow],
    visitor_roles: Mapping[str, tuple[str, ...]],
    roles: Sequence[str],
) -> tuple[tuple[FeatureReport, ...], tuple[UnusedFeatures, ...]]:
    events: dict[str, int] = defaultdict(int)
    users: dict[str, set[str]] = defaultdict(set)
    for kind, name, visitor, count in counts:
        if kind == "feature":
            events[name] += count
            users[name].add(visitor)
    active = {role: sum(1 for role_set in visitor_roles.values() if role in role_set) for role in roles}

    reports = []
    unused: dict[str, list[str]] = {role: [] for role in roles}
    no_roles: tuple[str, ...] = ()
    for spec in specs.features:
        feature_users = users.get(spec.id, set())
        users_per_role: Counter[str] = Counter()
        for role_set, count in Counter(visitor_roles.get(visitor, no_roles) for visitor in feature_users).items():
            for role in role_set:
                users_per_role[role] += count
        shares = []
        for role in roles:
            role_users = users_per_role[role]
            shares.append(RoleShare(role, role_users, active[role], ratio(role_users, active[role])))
            if role_users == 0 and active[role]:
                unused[role].append(spec.id)
        reports.append(
            FeatureReport(
                id=spec.id,
                title=spec.title,
                events=events.get(spec.id, 0),
                users=len(feature_users),
                active=len(visitor_roles),
                share=ratio(len(feature_users), len(visitor_roles)),
                by_role=tuple(shares),
            )
        )
    return tuple(reports), tuple(UnusedFeatures(role, tuple(unused[role])) for role in roles if unused[role])


_Outcomes = tuple[int, int, int]
"""A visitor's runs of one workflow: (runs, completed, with a failed step)."""


def _outcomes_by_visitor(runs_by_visitor: CountsByVisitor) -> dict[str, _Outcomes]:
    return {visitor: (counted.runs, counted.completed, counted.failed_runs) for visitor, counted in runs_by_visitor.items()}


def _cohort(outcomes: Iterable[_Outcomes]) -> Cohort:
    visitors = runs = completed = failed = 0
    for visitor_runs, visitor_completed, visitor_failed in outcomes:
        visitors += 1
        runs += visitor_runs
        completed += visitor_completed
        failed += visitor_failed
    return Cohort(
        visitors=visitors,
        runs=runs,
        completed=completed,
        conversion=ratio(completed, runs),
        failed_runs=failed,
        failure_rate=ratio(failed, runs),
    )


def _guides(
    specs: Specs,
    counts: Sequence[NameCountRow],
    runs_by_workflow: Mapping[str, CountsByVisitor],
    reported_workflows: set[str],
) -> tuple[GuideReport, ...]:
    totals: dict[tuple[str, str], int] = defaultdict(int)
    viewers: dict[str, set[str]] = defaultdict(set)
    for kind, name, visitor, count in counts:
        if kind == "feature":
            continue
        totals[(kind, name)] += count
        if kind == "guide_shown":
            viewers[name].add(visitor)

    outcomes: dict[str, dict[str, _Outcomes]] = {}
    reports = []
    for spec in specs.guides:
        saw = viewers.get(spec.id, set())
        effects = []
        for workflow in spec.workflows:
            if workflow not in reported_workflows:
                continue
            if workflow not in outcomes:
                outcomes[workflow] = _outcomes_by_visitor(runs_by_workflow.get(workflow, {}))
            by_visitor = outcomes[workflow]
            effects.append(
                GuideEffect(
                    workflow=workflow,
                    saw=_cohort(outcome for visitor, outcome in by_visitor.items() if visitor in saw),
                    did_not_see=_cohort(outcome for visitor, outcome in by_visitor.items() if visitor not in saw),
                )
            )
        reports.append(
            GuideReport(
                id=spec.id,
                title=spec.title,
                shown=totals.get(("guide_shown", spec.id), 0),
                viewers=len(saw),
                completed=totals.get(("guide_completed", spec.id), 0),
                dismissed=totals.get(("guide_dismissed", spec.id), 0),
                target_missing=totals.get(("target_missing", spec.id), 0),
                effects=tuple(effects),
            )
        )
    return tuple(reports)


def _help_start(query: ReportQuery) -> float:
    """Start of the help trend: the go-live day, or the day the period starts in."""
    if query.go_live is not None:
        return day_start(query.go_live)
    return day_start(datetime.datetime.fromtimestamp(query.since, datetime.timezone.utc).date())


def _help(query: ReportQuery, start: float, rows: Sequence[TimeRow]) -> tuple[HelpWeek, ...]:
    """Count help requests per week from `start` to `until`."""
    if start >= query.until:
        return ()
    first_day = datetime.datetime.fromtimestamp(start, datetime.timezone.utc).date()
    weeks = math.ceil((query.until - start) / WEEK)
    requests = [0] * weeks
    visitors: list[set[str]] = [set() for _ in range(weeks)]
    for moment, visitor in rows:
        index = int((moment - start) // WEEK)
        requests[index] += 1
        visitors[index].add(visitor)
    return tuple(
        HelpWeek(
            week=index + 1,
            start=first_day + datetime.timedelta(days=7 * index),
            requests=requests[index],
            visitors=len(visitors[index]),
        )
        for index in range(weeks)
    )
