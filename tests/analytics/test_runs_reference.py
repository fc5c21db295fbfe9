"""The run trackers against a plain recomputation of the run rules, on generated step events."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from .reference import StepEvent, reference_funnel, reference_runs, runs_of_role

from proxy.analytics.funnels import FunnelTracker, workflow_report
from proxy.analytics.runs import RunTracker
from proxy.analytics.specs import WorkflowSpec
from proxy.events.store import STEP_KEY_SEPARATOR

SPECS = (
    WorkflowSpec("po", "Purchase order", ("open", "items", "submit"), "ordered", 100.0, ("cancel",)),
    WorkflowSpec("approve", "Approve", ("inbox", "open", "approve"), "strict", 50.0, ("reject",)),
    WorkflowSpec("vendor", "Vendor", ("new",), "strict", 80.0),
)
STEPS = [
    *(("po", step) for step in ("open", "items", "submit", "cancel", "retired")),
    *(("approve", step) for step in ("inbox", "open", "approve", "reject", "retired")),
    ("vendor", "new"),
    ("legacy", "open"),
]
OUTCOMES = ["success", "failure", "abandon", None, "timeout"]
VISITORS = ["v1", "v2", "v3"]
ROLES = {"v1": ("clerk",), "v2": ("clerk", "manager"), "v3": ()}
UNTIL = 600.0


def key(workflow: str, step: str, outcome: str | None) -> str:
    return f"{workflow}{STEP_KEY_SEPARATOR}{step}{STEP_KEY_SEPARATOR}{outcome or ''}"


def check_trackers(events: list[StepEvent], as_of: float) -> None:
    """Compare RunTracker's runs and FunnelTracker's funnels with the reference on the same events."""
    expected = reference_runs(events, SPECS, UNTIL, as_of)

    runs = RunTracker(SPECS, UNTIL)
    runs.feed([(time, visitor, key(workflow, step, outcome)) for time, visitor, workflow, step, outcome in events])
    found = [run for by_visitor in runs.finish(as_of).values() for visitor_runs in by_visitor.values() for run in visitor_runs]
    assert sorted(found) == sorted(expected)

    counts = FunnelTracker(SPECS, UNTIL)
    code = counts.coding.code
    counts.feed_coded([(time, visitor, code(workflow, step, outcome)) for time, visitor, workflow, step, outcome in events])
    by_workflow = counts.finish(as_of)
    roles = ["clerk", "manager"]
    for spec in SPECS:
        report = workflow_report(spec, by_workflow[spec.id], ROLES, roles)
        workflow_runs = [run for run in expected if run.workflow == spec.id]
        assert report.total == reference_funnel(None, spec.steps, workflow_runs)
        for funnel, role in zip(report.by_role, roles, strict=True):
            assert funnel == reference_funnel(role, spec.steps, runs_of_role(workflow_runs, ROLES, role))


EVENT = st.tuples(
    st.sampled_from([0.0, 0.0, 1.0, 5.0, 30.0, 120.0]),
    st.sampled_from(VISITORS),
    st.sampled_from(STEPS),
    st.sampled_from(OUTCOMES),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(EVENT, max_size=60), st.sampled_from([UNTIL + 30.0, UNTIL + 1000.0]))
def test_trackers_match_reference(draws: list[tuple[float, str, tuple[str, str], str | None]], as_of: float) -> None:
    events: list[StepEvent] = []
    time = 0.0
    for gap, visitor, (workflow, step), outcome in draws:
        time += gap
        events.append((time, visitor, workflow, step, outcome))
    check_trackers(events, as_of)


def test_trackers_match_reference_on_long_history() -> None:
    generator = random.Random(11)
    events: list[StepEvent] = []
    time = 0.0
    for _ in range(20_000):
        time += generator.choice([0.0, 0.03, 0.1, 0.5])
        workflow, step = generator.choice(STEPS)
        events.append((time, generator.choice(VISITORS), workflow, step, generator.choice(OUTCOMES)))
    check_trackers(events, UNTIL + 30.0)
