"""The report flattened into named tables, the common ground of the terminal, CSV and HTML renderers."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Literal

from proxy.analytics.models import Cohort, Funnel, Report

Cell = str | int | float | datetime.date | None
ColumnKind = Literal["text", "count", "ratio", "seconds", "date"]
ALL = "(all)"
"""Role column value of the rows that count every visitor."""


@dataclass(frozen=True)
class Column:
    """A table column: its CSV header and how to show its values."""

    key: str
    kind: ColumnKind = "count"


@dataclass(frozen=True)
class Table:
    """Rows under named columns; `name` is also the CSV file name without extension."""

    name: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]


TABLE_NAMES = ("roles", "workflows", "steps", "features", "unused_features", "guides", "guide_effect", "help")


def report_tables(report: Report) -> tuple[Table, ...]:
    """Return every table of the report, in TABLE_NAMES order."""
    return (
        _roles(report),
        _workflows(report),
        _steps(report),
        _features(report),
        _unused(report),
        _guides(report),
        _guide_effect(report),
        _help(report),
    )


def table(report: Report, name: str) -> Table:
    """Return one table by name; raise KeyError naming the known tables for another name."""
    for candidate in report_tables(report):
        if candidate.name == name:
            return candidate
    raise KeyError(f"unknown table '{name}'; expected one of: {', '.join(TABLE_NAMES)}")


def _role(role: str | None) -> str:
    return ALL if role is None else role


def _roles(report: Report) -> Table:
    rows: list[tuple[Cell, ...]] = [(ALL, report.active_visitors)]
    rows.extend((activity.role, activity.visitors) for activity in report.roles)
    return Table("roles", "Active visitors", (Column("role", "text"), Column("active_visitors")), tuple(rows))


def _funnels(report: Report) -> list[tuple[str, Funnel]]:
    return [
        (workflow.id, funnel) for workflow in report.workflows for funnel in (workflow.total, *workflow.by_role)
    ]


def _workflows(report: Report) -> Table:
    columns = (
        Column("workflow", "text"),
        Column("role", "text"),
        Column("started"),
        Column("completed"),
        Column("conversion", "ratio"),
        Column("median_seconds", "seconds"),
        Column("p90_seconds", "seconds"),
        Column("abandoned"),
        Column("cancelled"),
        Column("open"),
        Column("failed_runs"),
    )
    rows = tuple(
        (
            workflow,
            _role(funnel.role),
            funnel.started,
            funnel.completed,
            funnel.conversion,
            funnel.median_seconds,
            funnel.p90_seconds,
            funnel.abandoned,
            funnel.cancelled,
            funnel.open,
            funnel.failed_runs,
        )
        for workflow, funnel in _funnels(report)
    )
    return Table("workflows", "Workflow runs", columns, rows)


def _steps(report: Report) -> Table:
    columns = (
        Column("workflow", "text"),
        Column("role", "text"),
        Column("step", "text"),
        Column("reached"),
        Column("passed"),
        Column("failures"),
        Column("stopped"),
    )
    rows = tuple(
        (workflow, _role(funnel.role), step.step, step.reached, step.passed, step.failures, step.stopped)
        for workflow, funnel in _funnels(report)
        for step in funnel.steps
    )
    return Table("steps", "Steps: reached, passed, failed attempts, abandoned runs stopped there", columns, rows)


def _features(report: Report) -> Table:
    columns = (
        Column("feature", "text"),
        Column("role", "text"),
        Column("users"),
        Column("active"),
        Column("share", "ratio"),
    )
    rows: list[tuple[Cell, ...]] = []
    for feature in report.features:
        rows.append((feature.id, ALL, feature.users, feature.active, feature.share))
        rows.extend((feature.id, share.role, share.users, share.active, share.share) for share in feature.by_role)
    return Table("features", "Feature use: share of active visitors", columns, tuple(rows))


def _unused(report: Report) -> Table:
    rows = tuple((entry.role, feature) for entry in report.unused_features for feature in entry.features)
    return Table("unused_features", "Features a role never used", (Column("role", "text"), Column("feature", "text")), rows)


def _guides(report: Report) -> Table:
    columns = (
        Column("guide", "text"),
        Column("shown"),
        Column("viewers"),
        Column("completed"),
        Column("dismissed"),
        Column("target_missing"),
    )
    rows = tuple(
        (guide.id, guide.shown, guide.viewers, guide.completed, guide.dismissed, guide.target_missing)
        for guide in report.guides
    )
    return Table("guides", "Guides", columns, rows)


def _cohort_row(guide: str, workflow: str, group: str, cohort: Cohort) -> tuple[Cell, ...]:
    return (
        guide,
        workflow,
        group,
        cohort.visitors,
        cohort.runs,
        cohort.completed,
        cohort.conversion,
        cohort.failed_runs,
        cohort.failure_rate,
    )


def _guide_effect(report: Report) -> Table:
    columns = (
        Column("guide", "text"),
        Column("workflow", "text"),
        Column("visitors_who", "text"),
        Column("visitors"),
        Column("runs"),
        Column("completed"),
        Column("conversion", "ratio"),
        Column("failed_runs"),
        Column("failure_rate", "ratio"),
    )
    rows: list[tuple[Cell, ...]] = []
    for guide in report.guides:
        for effect in guide.effects:
            rows.append(_cohort_row(guide.id, effect.workflow, "saw", effect.saw))
            rows.append(_cohort_row(guide.id, effect.workflow, "did_not_see", effect.did_not_see))
    return Table("guide_effect", "Guide effect: runs of visitors who saw the guide and of those who did not", columns, tuple(rows))


def _help(report: Report) -> Table:
    columns = (Column("week"), Column("start", "date"), Column("requests"), Column("visitors"))
    rows = tuple((week.week, week.start, week.requests, week.visitors) for week in report.help)
    return Table("help", "Help requests per week", columns, rows)
