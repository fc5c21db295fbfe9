"""The report as frozen dataclasses: what every renderer (table, CSV, JSON, HTML) reads."""

from __future__ import annotations

import datetime
from dataclasses import dataclass


@dataclass(frozen=True)
class StepStats:
    """One step of a funnel."""

    step: str
    reached: int
    """Runs that got to this step (an attempt, failed or not)."""
    passed: int
    """Runs that passed this step."""
    failures: int
    """Failed attempts at this step (validation errors), counting each retry."""
    stopped: int
    """Abandoned runs whose furthest step is this one."""


@dataclass(frozen=True)
class Funnel:
    """Runs of one workflow started in the period, by all visitors (`role` None) or one role's."""

    role: str | None
    started: int
    completed: int
    abandoned: int
    cancelled: int
    """Abandoned runs that ended on an exclusion step (counted in `abandoned` too)."""
    open: int
    """Runs neither completed nor abandoned: their window had not passed when the report was made."""
    failed_runs: int
    """Runs with at least one failed step."""
    conversion: float | None
    """completed / started; None when nothing started."""
    median_seconds: float | None
    """Median time to complete; the mean of the two middle values for an even count."""
    p90_seconds: float | None
    """90th percentile of time to complete (nearest rank)."""
    steps: tuple[StepStats, ...]


@dataclass(frozen=True)
class WorkflowReport:
    """A workflow's funnel for everyone and per role."""

    id: str
    title: str
    order: str
    window_seconds: float
    total: Funnel
    by_role: tuple[Funnel, ...]


@dataclass(frozen=True)
class RoleShare:
    """How many of a role's active visitors used a feature."""

    role: str
    users: int
    active: int
    share: float | None
    """users / active; None when the role had no active visitor."""


@dataclass(frozen=True)
class FeatureReport:
    """Use of one feature in the period."""

    id: str
    title: str
    events: int
    users: int
    active: int
    share: float | None
    by_role: tuple[RoleShare, ...]


@dataclass(frozen=True)
class UnusedFeatures:
    """The features no active visitor of a role used in the period (roles that used all are left out)."""

    role: str
    features: tuple[str, ...]


@dataclass(frozen=True)
class Cohort:
    """Runs of one workflow by a group of visitors."""

    visitors: int
    """Visitors of the group with at least one run."""
    runs: int
    completed: int
    conversion: float | None
    failed_runs: int
    failure_rate: float | None
    """failed_runs / runs."""


@dataclass(frozen=True)
class GuideEffect:
    """A linked workflow's runs by visitors who saw the guide in the period, against the others'."""

    workflow: str
    saw: Cohort
    did_not_see: Cohort


@dataclass(frozen=True)
class GuideReport:
    """Engagement with one guide in the period, and its effect on the workflows it is linked to."""

    id: str
    title: str
    shown: int
    viewers: int
    """Visitors the guide was shown to."""
    completed: int
    dismissed: int
    target_missing: int
    effects: tuple[GuideEffect, ...]


@dataclass(frozen=True)
class HelpWeek:
    """Help requests (help menu opened, help requested) in one week counted from go-live."""

    week: int
    """1 for the week starting on the go-live day (or on the period start without one)."""
    start: datetime.date
    requests: int
    visitors: int


@dataclass(frozen=True)
class RoleActivity:
    """Active visitors of one role: visitors with any event in the period."""

    role: str
    visitors: int


@dataclass(frozen=True)
class Report:
    """Adoption of one app over a period, optionally for one role or one workflow.

    Times are UTC epoch seconds, `since` inclusive and `until` exclusive. Runs started in the
    period are followed to the end of their window, and `as_of` decides which are still open.
    """

    app: str
    since: float
    until: float
    as_of: float
    role: str | None
    workflow: str | None
    go_live: datetime.date | None
    active_visitors: int
    roles: tuple[RoleActivity, ...]
    workflows: tuple[WorkflowReport, ...]
    features: tuple[FeatureReport, ...]
    unused_features: tuple[UnusedFeatures, ...]
    guides: tuple[GuideReport, ...]
    help: tuple[HelpWeek, ...]
