"""Funnels: workflow runs counted per step, for all visitors and per role."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence

from proxy.analytics.models import Funnel, StepStats, WorkflowReport
from proxy.analytics.runs import Run
from proxy.analytics.specs import WorkflowSpec


def ratio(part: int, whole: int) -> float | None:
    """Return part / whole, or None when whole is 0."""
    return part / whole if whole else None


def median(values: Sequence[float]) -> float | None:
    """Return the median, or None for no values."""
    return statistics.median(values) if values else None


def nearest_rank(sorted_values: Sequence[float], percent: float) -> float | None:
    """Return the nearest-rank percentile of already sorted values, or None for no values.

    That is the smallest value with at least `percent`% of the values at or below it.
    """
    if not sorted_values:
        return None
    rank = max(1, math.ceil(percent / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


class FunnelCounter:
    """Accumulates runs of one workflow; counters of several groups merge into one."""

    __slots__ = (
        "started", "completed", "abandoned", "cancelled", "open", "failed_runs",
        "durations", "reached", "passed", "failures", "stopped",
    )

    def __init__(self, step_count: int) -> None:
        self.started = 0
        self.completed = 0
        self.abandoned = 0
        self.cancelled = 0
        self.open = 0
        self.failed_runs = 0
        self.durations: list[float] = []
        # Histograms by step index; `passed` is shifted by one so that index 0 means "none passed".
        self.reached = [0] * step_count
        self.passed = [0] * (step_count + 1)
        self.failures = [0] * step_count
        self.stopped = [0] * step_count

    def add(self, runs: Iterable[Run]) -> None:
        """Count runs."""
        reached_at = self.reached
        passed_at = self.passed
        failures_at = self.failures
        stopped_at = self.stopped
        durations = self.durations
        started = completed = abandoned = cancelled_count = open_count = failed_runs = 0

        # Unpacking the tuple is markedly cheaper than reading the fields by name.
        for _, _, start, end, status, reached, passed, failures, cancelled in runs:
            started += 1
            reached_at[reached] += 1
            passed_at[passed + 1] += 1
            if failures:
                failed_runs += 1
                for index in failures:
                    failures_at[index] += 1
            if status == "completed":
                completed += 1
                durations.append(end - start)
            elif status == "open":
                open_count += 1
            else:
                abandoned += 1
                stopped_at[reached] += 1
                if cancelled:
                    cancelled_count += 1

        self.started += started
        self.completed += completed
        self.abandoned += abandoned
        self.cancelled += cancelled_count
        self.open += open_count
        self.failed_runs += failed_runs

    def merge(self, other: FunnelCounter) -> None:
        """Add another counter's runs to this one."""
        self.started += other.started
        self.completed += other.completed
        self.abandoned += other.abandoned
        self.cancelled += other.cancelled
        self.open += other.open
        self.failed_runs += other.failed_runs
        self.durations.extend(other.durations)
        for mine, theirs in (
            (self.reached, other.reached),
            (self.passed, other.passed),
            (self.failures, other.failures),
            (self.stopped, other.stopped),
        ):
            for index, count in enumerate(theirs):
                mine[index] += count

    def funnel(self, role: str | None, steps: Sequence[str]) -> Funnel:
        """Return the counts as a Funnel."""
        durations = sorted(self.durations)
        rows = []
        reached_or_later = 0
        passed_or_later = 0
        for index in range(len(steps) - 1, -1, -1):
            reached_or_later += self.reached[index]
            passed_or_later += self.passed[index + 1]
            rows.append(
                StepStats(
                    step=steps[index],
                    reached=reached_or_later,
                    passed=passed_or_later,
                    failures=self.failures[index],
                    stopped=self.stopped[index],
                )
            )
        rows.reverse()
        return Funnel(
            role=role,
            started=self.started,
            completed=self.completed,
            abandoned=self.abandoned,
            cancelled=self.cancelled,
            open=self.open,
            failed_runs=self.failed_runs,
            conversion=ratio(self.completed, self.started),
            median_seconds=median(durations),
            p90_seconds=nearest_rank(durations, 90),
            steps=tuple(rows),
        )


def workflow_report(
    spec: WorkflowSpec,
    runs_by_visitor: Mapping[str, Sequence[Run]],
    visitor_roles: Mapping[str, tuple[str, ...]],
    roles: Sequence[str],
) -> WorkflowReport:
    """Count a workflow's runs for everyone and for each of `roles`; a visitor with two roles
    counts in both."""
    step_count = len(spec.steps)
    by_role_set: dict[tuple[str, ...], FunnelCounter] = {}
    no_roles: tuple[str, ...] = ()
    for visitor, runs in runs_by_visitor.items():
        role_set = visitor_roles.get(visitor, no_roles)
        counter = by_role_set.get(role_set)
        if counter is None:
            counter = by_role_set[role_set] = FunnelCounter(step_count)
        counter.add(runs)

    total = FunnelCounter(step_count)
    per_role = {role: FunnelCounter(step_count) for role in roles}
    for role_set, counter in by_role_set.items():
        total.merge(counter)
        for role in role_set:
            if role in per_role:
                per_role[role].merge(counter)
    return WorkflowReport(
        id=spec.id,
        title=spec.title,
        order=spec.order,
        window_seconds=spec.window_seconds,
        total=total.funnel(None, spec.steps),
        by_role=tuple(per_role[role].funnel(role, spec.steps) for role in roles),
    )
