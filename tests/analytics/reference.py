"""A plain recomputation of workflow runs and funnels, to check the optimised report code against.

It applies the rules of proxy/analytics/runs.py one visitor and one event at a time, with readable
data structures and no codes, caches or shortcuts, so that a difference points at the optimised
path.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from proxy.analytics.models import Funnel, StepStats
from proxy.analytics.runs import Run, RunStatus
from proxy.analytics.specs import WorkflowSpec

StepEvent = tuple[float, str, str, str, str | None]
"""(time, visitor, workflow, step, outcome) of one workflow step event, in time order."""


@dataclass
class _OpenRun:
    started: float
    last: float
    passed: int = -1
    reached: int = 0
    failures: list[int] = field(default_factory=list)


def reference_runs(
    events: Iterable[StepEvent], specs: Sequence[WorkflowSpec], until: float, as_of: float
) -> list[Run]:
    """Return every run the rules give for the events, in no particular order."""
    by_id = {spec.id: spec for spec in specs}
    by_visitor: dict[str, list[StepEvent]] = {}
    for event in events:
        by_visitor.setdefault(event[1], []).append(event)

    runs: list[Run] = []
    for visitor, visitor_events in by_visitor.items():
        open_runs: dict[str, _OpenRun] = {}

        def close(workflow: str, status: RunStatus, cancelled: bool = False) -> None:
            run = open_runs.pop(workflow)
            runs.append(
                Run(workflow, visitor, run.started, run.last, status, run.reached, run.passed, tuple(run.failures), cancelled)
            )

        for time, _, workflow, step, outcome in visitor_events:
            # A strict run ends at any step event of another workflow, known or not.
            for other in specs:
                if other.order == "strict" and other.id != workflow and other.id in open_runs:
                    close(other.id, "abandoned")
            spec = by_id.get(workflow)
            if spec is None:
                continue
            run = open_runs.get(workflow)
            if run is not None and time - run.started > spec.window_seconds:
                close(workflow, "abandoned")
                run = None

            if step in spec.exclusions:
                if run is not None:
                    run.last = time
                    close(workflow, "abandoned", cancelled=True)
                continue
            if step not in spec.steps:
                if run is not None and spec.order == "strict":
                    close(workflow, "abandoned")
                continue

            index = spec.steps.index(step)
            if run is not None and index != run.passed + 1:
                if spec.order == "ordered" or index == run.passed:
                    continue
                close(workflow, "abandoned")
                run = None
            if run is None:
                if index != 0 or time >= until or outcome == "abandon":
                    continue
                run = open_runs[workflow] = _OpenRun(started=time, last=time)

            run.last = time
            run.reached = max(run.reached, index)
            if outcome == "failure":
                run.failures.append(index)
            elif outcome == "abandon":
                close(workflow, "abandoned")
            else:
                run.passed = index
                if index == len(spec.steps) - 1:
                    close(workflow, "completed")

        for workflow in list(open_runs):
            window = by_id[workflow].window_seconds
            close(workflow, "abandoned" if as_of - open_runs[workflow].started > window else "open")
    return runs


def reference_funnel(role: str | None, steps: Sequence[str], runs: Sequence[Run]) -> Funnel:
    """Count runs of one workflow into a Funnel, one run at a time."""
    durations = sorted(run.ended - run.started for run in runs if run.status == "completed")
    completed = sum(1 for run in runs if run.status == "completed")
    return Funnel(
        role=role,
        started=len(runs),
        completed=completed,
        abandoned=sum(1 for run in runs if run.status == "abandoned"),
        cancelled=sum(1 for run in runs if run.cancelled),
        open=sum(1 for run in runs if run.status == "open"),
        failed_runs=sum(1 for run in runs if run.failures),
        conversion=completed / len(runs) if runs else None,
        median_seconds=statistics.median(durations) if durations else None,
        p90_seconds=durations[max(1, math.ceil(0.9 * len(durations))) - 1] if durations else None,
        steps=tuple(
            StepStats(
                step=step,
                reached=sum(1 for run in runs if run.reached >= index),
                passed=sum(1 for run in runs if run.passed >= index),
                failures=sum(run.failures.count(index) for run in runs),
                stopped=sum(1 for run in runs if run.status == "abandoned" and run.reached == index),
            )
            for index, step in enumerate(steps)
        ),
    )


def runs_of_role(runs: Iterable[Run], visitor_roles: Mapping[str, tuple[str, ...]], role: str) -> list[Run]:
    """Return the runs of visitors who have `role`."""
    return [run for run in runs if role in visitor_roles.get(run.visitor, ())]
