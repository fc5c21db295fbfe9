"""Tests of the run rules: starts, windows, retries, detours, strict order and exclusions."""

from __future__ import annotations

import pytest

from proxy.analytics.runs import Run, RunTracker, track
from proxy.analytics.specs import WorkflowSpec
from proxy.events.store import STEP_KEY_SEPARATOR, StepRow

ORDERED = WorkflowSpec("po", "Purchase order", ("open", "items", "submit"), "ordered", 100.0, ("cancel",))
STRICT = WorkflowSpec("po", "Purchase order", ("open", "items", "submit"), "strict", 100.0, ("cancel",))
OTHER = WorkflowSpec("vendor", "Vendor", ("new", "save"), "ordered", 100.0)
UNTIL = 1000.0


def step(time: float, name: str, outcome: str = "success", visitor: str = "v1", workflow: str = "po") -> StepRow:
    return (time, visitor, f"{workflow}{STEP_KEY_SEPARATOR}{name}{STEP_KEY_SEPARATOR}{outcome}")


def run(
    started: float,
    ended: float,
    status: str,
    reached: int,
    passed: int,
    failures: tuple[int, ...] = (),
    cancelled: bool = False,
    workflow: str = "po",
    visitor: str = "v1",
) -> Run:
    return Run(workflow, visitor, started, ended, status, reached, passed, failures, cancelled)  # type: ignore[arg-type]


CASES = [
    pytest.param(
        ORDERED, [step(0, "open"), step(10, "items"), step(20, "submit")], 500,
        [run(0, 20, "completed", 2, 2)], id="complete",
    ),
    pytest.param(
        ORDERED, [step(0, "open"), step(10, "items"), step(15, "submit", "failure"), step(30, "submit")], 500,
        [run(0, 30, "completed", 2, 2, (2,))], id="failure-then-retry",
    ),
    pytest.param(
        ORDERED, [step(0, "open", "failure"), step(5, "open"), step(10, "items"), step(20, "submit")], 500,
        [run(0, 20, "completed", 2, 2, (0,))], id="first-step-fails-then-retried",
    ),
    pytest.param(
        ORDERED, [step(0, "open"), step(10, "items")], 500,
        [run(0, 10, "abandoned", 1, 1)], id="window-passed-abandoned-at-reached",
    ),
    pytest.param(
        ORDERED, [step(0, "open"), step(10, "items"), step(20, "submit", "failure")], 500,
        [run(0, 20, "abandoned", 2, 1, (2,))], id="abandoned-at-failed-step",
    ),
    pytest.param(
        ORDERED, [step(0, "open"), step(10, "items")], 50,
        [run(0, 10, "open", 1, 1)], id="open-within-window",
    ),
    pytest.param(
        ORDERED, [step(0, "open"), step(10, "items"), step(100, "submit")], 500,
        [run(0, 100, "completed", 2, 2)], id="event-at-window-end-counts",
    ),
    pytest.param(
        ORDERED, [step(0, "open"), step(30, "cancel")], 500,
        [run(0, 30, "abandoned", 0, 0, cancelled=True)], id="exclusion-cancels",
    ),
    pytest.param(ORDERED, [step(0, "cancel")], 500, [], id="exclusion-without-run"),
    pytest.param(
        ORDERED, [step(0, "open"), step(5, "submit"), step(10, "items"), step(15, "open"), step(20, "submit")], 500,
        [run(0, 20, "completed", 2, 2)], id="ordered-ignores-out-of-turn",
    ),
    pytest.param(
        ORDERED, [step(0, "open"), step(5, "new", workflow="vendor"), step(10, "items"), step(20, "submit")], 500,
        [run(0, 20, "completed", 2, 2), run(5, 5, "abandoned", 0, 0, workflow="vendor")],
        id="ordered-allows-other-workflow-between",
    ),
    pytest.param(
        ORDERED, [step(0, "open"), step(10, "items"), step(150, "open"), step(160, "items")], 500,
        [run(0, 10, "abandoned", 1, 1), run(150, 160, "abandoned", 1, 1)], id="late-first-step-starts-new-run",
    ),
    pytest.param(
        ORDERED, [step(0, "open"), step(150, "items")], 500,
        [run(0, 0, "abandoned", 0, 0)], id="late-step-finds-run-over",
    ),
    pytest.param(
        ORDERED, [step(0, "open"), step(10, "items"), step(20, "submit"), step(30, "open")], 100,
        [run(0, 20, "completed", 2, 2), run(30, 30, "open", 0, 0)], id="new-run-after-completion",
    ),
    pytest.param(
        ORDERED, [step(0, "open"), step(10, "items", "abandon")], 500,
        [run(0, 10, "abandoned", 1, 0)], id="abandon-outcome-ends-run",
    ),
    pytest.param(
        ORDERED, [step(0, "items"), step(10, "submit")], 500, [], id="no-first-step-no-run",
    ),
    pytest.param(
        ORDERED, [step(UNTIL, "open"), step(UNTIL + 10, "items"), step(UNTIL + 20, "submit")], 2000,
        [], id="start-after-period-ignored",
    ),
    pytest.param(
        ORDERED, [step(UNTIL - 10, "open"), step(UNTIL + 10, "items"), step(UNTIL + 20, "submit")], 2000,
        [run(UNTIL - 10, UNTIL + 20, "completed", 2, 2)], id="run-followed-past-period",
    ),
    pytest.param(
        ORDERED, [step(0, "open"), step(5, "unknown_step"), step(10, "items")], 50,
        [run(0, 10, "open", 1, 1)], id="ordered-ignores-unknown-step",
    ),
    pytest.param(
        ORDERED, [step(0, "open"), step(10, "open", visitor="v2"), step(20, "items"), step(30, "submit", visitor="v2")],
        500,
        [run(0, 20, "abandoned", 1, 1), run(10, 10, "abandoned", 0, 0, visitor="v2")],
        id="visitors-are-separate",
    ),
    pytest.param(
        STRICT, [step(0, "open"), step(10, "items"), step(20, "submit")], 500,
        [run(0, 20, "completed", 2, 2)], id="strict-complete",
    ),
    pytest.param(
        STRICT, [step(0, "open"), step(5, "open"), step(10, "items"), step(12, "items"), step(20, "submit")], 500,
        [run(0, 20, "completed", 2, 2)], id="strict-allows-repeat-of-passed-step",
    ),
    pytest.param(
        STRICT, [step(0, "open"), step(10, "items", "failure"), step(12, "items"), step(20, "submit")], 500,
        [run(0, 20, "completed", 2, 2, (1,))], id="strict-allows-retry",
    ),
    pytest.param(
        STRICT, [step(0, "open"), step(10, "submit"), step(20, "items")], 500,
        [run(0, 0, "abandoned", 0, 0)], id="strict-skip-ends-run",
    ),
    pytest.param(
        STRICT, [step(0, "open"), step(5, "new", workflow="vendor"), step(10, "items")], 500,
        [run(0, 0, "abandoned", 0, 0), run(5, 5, "abandoned", 0, 0, workflow="vendor")],
        id="strict-other-workflow-ends-run",
    ),
    pytest.param(
        STRICT, [step(0, "open"), step(5, "x", workflow="unknown"), step(10, "items")], 500,
        [run(0, 0, "abandoned", 0, 0)], id="strict-unknown-workflow-ends-run",
    ),
    pytest.param(
        STRICT, [step(0, "open"), step(10, "items"), step(20, "open"), step(30, "items"), step(40, "submit")], 500,
        [run(0, 10, "abandoned", 1, 1), run(20, 40, "completed", 2, 2)], id="strict-first-step-restarts",
    ),
    pytest.param(
        STRICT, [step(0, "open"), step(10, "unknown_step")], 500,
        [run(0, 0, "abandoned", 0, 0)], id="strict-unknown-step-ends-run",
    ),
    pytest.param(
        STRICT, [step(0, "open"), step(10, "cancel")], 500,
        [run(0, 10, "abandoned", 0, 0, cancelled=True)], id="strict-exclusion-cancels",
    ),
    pytest.param(
        STRICT, [step(0, "open"), step(10, "new", visitor="v2", workflow="vendor"), step(20, "items")], 50,
        [run(10, 10, "open", 0, 0, workflow="vendor", visitor="v2"), run(0, 20, "open", 1, 1)],
        id="strict-other-visitor-does-not-matter",
    ),
]


@pytest.mark.parametrize(("spec", "rows", "as_of", "expected"), CASES)
def test_runs(spec: WorkflowSpec, rows: list[StepRow], as_of: float, expected: list[Run]) -> None:
    runs = track(rows, [spec, OTHER], UNTIL, as_of)
    assert sorted(runs) == sorted(expected)


def test_runs_fed_in_pages() -> None:
    rows = [step(0, "open"), step(10, "items"), step(20, "submit"), step(30, "open"), step(35, "items")]
    tracker = RunTracker([ORDERED], UNTIL)
    for row in rows:
        tracker.feed([row])
    assert tracker.finish(60) == {"po": {"v1": [run(0, 20, "completed", 2, 2), run(30, 35, "open", 1, 1)]}}


def test_run_duration() -> None:
    assert run(5, 25, "completed", 2, 2).duration == 20
    assert run(5, 25, "abandoned", 1, 1).duration is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"steps": ()}, "workflow 'po' has no steps; expected at least one", id="no-steps"),
        pytest.param(
            {"steps": ("a", "a")}, "workflow 'po' lists a step twice; expected each step id once", id="repeated-step"
        ),
        pytest.param(
            {"exclusions": ("open",)},
            "workflow 'po' has 'open' both as a step and as an exclusion; expected one or the other",
            id="step-excluded",
        ),
        pytest.param({"order": "loose"}, "workflow 'po' has order 'loose'; expected 'ordered' or 'strict'", id="order"),
        pytest.param({"window_seconds": 0}, "workflow 'po' has window 0s; expected more than 0", id="window"),
    ],
)
def test_workflow_spec_rejects(changes: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {"id": "po", "title": "PO", "steps": ("open", "items"), **changes}
    with pytest.raises(ValueError) as caught:
        WorkflowSpec(**fields)  # type: ignore[arg-type]
    assert str(caught.value) == message
