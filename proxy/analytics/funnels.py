"""Funnels: workflow runs counted per step, for all visitors and per role."""

from __future__ import annotations

import math
import operator
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from proxy.analytics.models import Funnel, StepStats, WorkflowReport
from proxy.analytics.runs import RunMachine, RunStatus, TrackedWorkflow
from proxy.analytics.specs import WorkflowSpec


def ratio(part: int, whole: int) -> float | None:
    """Return part / whole, or None when whole is 0."""
    return part / whole if whole else None


def median(sorted_values: Sequence[float]) -> float | None:
    """Return the median of already sorted values, or None for no values.

    The mean of the two middle values for an even count, computed as statistics.median does.
    """
    count = len(sorted_values)
    if not count:
        return None
    middle = count // 2
    if count % 2:
        return sorted_values[middle]
    return (sorted_values[middle - 1] + sorted_values[middle]) / 2


def nearest_rank(sorted_values: Sequence[float], percent: float) -> float | None:
    """Return the nearest-rank percentile of already sorted values, or None for no values.

    That is the smallest value with at least `percent`% of the values at or below it.
    """
    if not sorted_values:
        return None
    rank = max(1, math.ceil(percent / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


_STATUS_CODES: dict[RunStatus, int] = {"completed": 0, "abandoned": 1, "open": 2}
_COMPLETED = _STATUS_CODES["completed"]
_OPEN = _STATUS_CODES["open"]


class RunCounts:
    """The runs of one visitor (or a group of visitors) in one workflow, as a funnel counts them.

    `outcomes` has one integer per run for all a funnel counts of it but failures and duration:
    `((status * steps + reached) * (steps + 1) + passed + 1) * 2 + cancelled`, with `steps` the
    number of steps of the workflow and `status` coded by _STATUS_CODES. `durations` has the time
    to complete of each completed run, and `failures` the step index of every failed attempt. A
    report keeps one of these per visitor and workflow: appending to lists is the cheapest way to
    record a run as it closes, and FunnelCounter.add counts the lists in C afterwards.
    """

    __slots__ = ("outcomes", "durations", "failures", "failed_runs")

    def __init__(self) -> None:
        self.outcomes: list[int] = []
        self.durations: list[float] = []
        self.failures: list[int] = []
        self.failed_runs = 0
        """Runs with at least one failed attempt."""

    @property
    def runs(self) -> int:
        """Number of runs."""
        return len(self.outcomes)

    @property
    def completed(self) -> int:
        """Number of completed runs."""
        return len(self.durations)

    def extend(self, other: RunCounts) -> None:
        """Add another visitor's runs to these."""
        self.outcomes.extend(other.outcomes)
        self.durations.extend(other.durations)
        self.failures.extend(other.failures)
        self.failed_runs += other.failed_runs


class FunnelCounter:
    """Counts of the runs of one workflow, per step; counters of several groups merge into one."""

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

    def add(self, counts: RunCounts) -> None:
        """Count runs of this counter's workflow."""
        steps = len(self.reached)
        for code, runs in Counter(counts.outcomes).items():
            rest, cancelled = divmod(code, 2)
            rest, passed_shifted = divmod(rest, steps + 1)
            status, reached = divmod(rest, steps)
            self.started += runs
            self.reached[reached] += runs
            self.passed[passed_shifted] += runs
            if status == _COMPLETED:
                self.completed += runs
            elif status == _OPEN:
                self.open += runs
            else:
                self.abandoned += runs
                self.stopped[reached] += runs
                if cancelled:
                    self.cancelled += runs
        for index, attempts in Counter(counts.failures).items():
            self.failures[index] += attempts
        self.failed_runs += counts.failed_runs
        self.durations.extend(counts.durations)

    def merge(self, other: FunnelCounter) -> None:
        """Add another counter's runs to this one."""
        self.started += other.started
        self.completed += other.completed
        self.abandoned += other.abandoned
        self.cancelled += other.cancelled
        self.open += other.open
        self.failed_runs += other.failed_runs
        self.durations.extend(other.durations)
        self.reached = list(map(operator.add, self.reached, other.reached))
        self.passed = list(map(operator.add, self.passed, other.passed))
        self.failures = list(map(operator.add, self.failures, other.failures))
        self.stopped = list(map(operator.add, self.stopped, other.stopped))

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


CountsByVisitor = dict[str, RunCounts]
"""One workflow's runs counted per visitor."""


class FunnelTracker(RunMachine):
    """A RunMachine that collects only RunCounts per visitor and workflow, not the runs.

    A report needs the counts, not the runs. Recording each run as it closes spares building,
    keeping and rereading a tuple per run: for the 152,000 runs of bench/bench_events.py that took
    less than half the CPU time.
    """

    def _record(
        self,
        flow: TrackedWorkflow,
        collected: Any,
        visitor: str,
        started: float,
        ended: float,
        status: RunStatus,
        reached: int,
        passed: int,
        failures: list[int] | None,
        cancelled: bool,
    ) -> RunCounts:
        counts: RunCounts | None = collected
        if counts is None:
            counts = RunCounts()
        steps = flow.final + 1
        counts.outcomes.append(((_STATUS_CODES[status] * steps + reached) * (steps + 1) + passed + 1) * 2 + cancelled)
        if status == "completed":
            counts.durations.append(ended - started)
        if failures:
            counts.failures.extend(failures)
            counts.failed_runs += 1
        return counts

    def finish(self, as_of: float) -> dict[str, CountsByVisitor]:
        """Close the runs in progress as RunTracker.finish does, and return the counts by workflow id,
        then by visitor. A visitor without a run of a workflow has no entry in it."""
        return self._finish(as_of)


def workflow_report(
    spec: WorkflowSpec,
    counts_by_visitor: Mapping[str, RunCounts],
    visitor_roles: Mapping[str, tuple[str, ...]],
    roles: Sequence[str],
) -> WorkflowReport:
    """Count a workflow's runs for everyone and for each of `roles`; a visitor with two roles
    counts in both."""
    by_role_set: dict[tuple[str, ...], RunCounts] = {}
    no_roles: tuple[str, ...] = ()
    for visitor, visitor_counts in counts_by_visitor.items():
        role_set = visitor_roles.get(visitor, no_roles)
        group = by_role_set.get(role_set)
        if group is None:
            group = by_role_set[role_set] = RunCounts()
        group.extend(visitor_counts)

    step_count = len(spec.steps)
    total = FunnelCounter(step_count)
    per_role = {role: FunnelCounter(step_count) for role in roles}
    for role_set, group in by_role_set.items():
        counter = FunnelCounter(step_count)
        counter.add(group)
        # Merged counters then hold sorted runs of durations, which `funnel` sorts in about linear time.
        counter.durations.sort()
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
