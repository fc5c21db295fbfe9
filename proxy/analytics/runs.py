"""Workflow runs: a visitor's way through a workflow's steps, rebuilt from time-ordered step events.

The rules, per visitor and workflow:

- An event of the first step starts a run (when none is in progress) if it falls before the end
  of the report period; later events of the run may come after it, within the window.
- The window is measured from the run's first event. An event later than `started + window`
  finds the run over: it is closed as abandoned first, and the event is read as if no run were in
  progress.
- The next step of a run is the one after the last step passed. An event of the next step with
  outcome 'failure' counts a failure at that step and the run waits for a retry; 'abandon' ends
  the run as abandoned; any other outcome passes the step. Passing the last step completes the
  run; time to complete is that event's time minus the run's first event's time. A failure then
  a successful retry therefore counts once as a failure and once as a pass.
- 'ordered': events of other steps (earlier ones revisited, later ones out of turn) are ignored,
  and so is everything that is not a step of this workflow.
- 'strict': the visitor's next workflow step event, of any workflow, must be the next step or a
  repeat of the step just passed. Anything else ends the run as abandoned; when it is the first
  step of this workflow it also starts a new run.
- An exclusion step ends a run in progress as abandoned and marks it cancelled.
- At the end, a run whose window has passed at `as_of` is abandoned; the others are open.

An abandoned run stopped at the furthest step it reached (a step reached but failed counts).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal, NamedTuple

from proxy.analytics.specs import WorkflowSpec
from proxy.events.store import STEP_KEY_SEPARATOR, StepRow

RunStatus = Literal["completed", "abandoned", "open"]

_PASS, _FAILURE, _ABANDON = 0, 1, 2
_EXCLUSION = -1
_OTHER_STEP = -2
_NO_FAILURES: tuple[int, ...] = ()


class Run(NamedTuple):
    """One run of one visitor through one workflow.

    Step positions are indexes into the workflow's steps. `passed` is -1 when no step passed;
    `failures` holds the step index of each failed attempt, in order. A NamedTuple rather than a
    frozen dataclass: a big report builds hundreds of thousands and tuples are several times
    cheaper to create.
    """

    workflow: str
    visitor: str
    started: float
    ended: float
    """Time of the run's last event: the completing, cancelling or last step event."""
    status: RunStatus
    reached: int
    passed: int
    failures: tuple[int, ...]
    cancelled: bool

    @property
    def duration(self) -> float | None:
        """Seconds from the first event to completion, for a completed run."""
        return self.ended - self.started if self.status == "completed" else None


class _Open:
    """A run in progress."""

    __slots__ = ("started", "last", "passed", "reached", "failures")

    def __init__(self, started: float) -> None:
        self.started = started
        self.last = started
        self.passed = -1
        self.reached = 0
        self.failures: list[int] | None = None


class _Flow:
    """One workflow's spec as lookups, and its runs in progress by visitor."""

    __slots__ = ("spec", "id", "strict", "window", "final", "open")

    def __init__(self, spec: WorkflowSpec) -> None:
        self.spec = spec
        self.id = spec.id
        self.strict = spec.order == "strict"
        self.window = spec.window_seconds
        self.final = len(spec.steps) - 1
        self.open: dict[str, _Open] = {}


_Entry = tuple[_Flow | None, int, int]


class RunTracker:
    """Rebuilds runs from pages of StepRow, fed in time order; `finish` returns every run.

    Feed every workflow step event of the app from the start of the period to at least
    `until + ` the longest window, whatever workflows are asked about: in strict mode any
    workflow's step can end a run.
    """

    def __init__(self, specs: Sequence[WorkflowSpec], until: float) -> None:
        self._flows = {spec.id: _Flow(spec) for spec in specs}
        self._until = until
        self._entries: dict[str, _Entry] = {}
        self._runs: list[Run] = []
        self._has_strict = any(flow.strict for flow in self._flows.values())
        self._strict_open: dict[str, list[_Flow]] = {}

    def _entry(self, key: str) -> _Entry:
        """Parse and cache a StepRow key: (flow or None, step index or marker, outcome code)."""
        name, _, rest = key.partition(STEP_KEY_SEPARATOR)
        step, _, outcome = rest.partition(STEP_KEY_SEPARATOR)
        code = _FAILURE if outcome == "failure" else _ABANDON if outcome == "abandon" else _PASS
        flow = self._flows.get(name)
        if flow is None:
            entry: _Entry = (None, _OTHER_STEP, code)
        elif step in flow.spec.steps:
            entry = (flow, flow.spec.steps.index(step), code)
        elif step in flow.spec.exclusions:
            entry = (flow, _EXCLUSION, code)
        else:
            entry = (flow, _OTHER_STEP, code)
        self._entries[key] = entry
        return entry

    def feed(self, rows: Iterable[StepRow]) -> None:
        """Process step events; rows must continue the time order of earlier calls."""
        entries = self._entries
        until = self._until
        has_strict = self._has_strict
        strict_open = self._strict_open
        for time, visitor, key in rows:
            entry = entries.get(key)
            if entry is None:
                entry = self._entry(key)
            flow, index, code = entry

            if has_strict:
                opened = strict_open.get(visitor)
                if opened:
                    for other in [other for other in opened if other is not flow]:
                        self._close(other, visitor, other.open[visitor], "abandoned")
            if flow is None:
                continue

            run = flow.open.get(visitor)
            if run is not None and time - run.started > flow.window:
                self._close(flow, visitor, run, "abandoned")
                run = None

            if index < 0:
                if run is not None and (index == _EXCLUSION or flow.strict):
                    if index == _EXCLUSION:
                        run.last = time
                    self._close(flow, visitor, run, "abandoned", cancelled=index == _EXCLUSION)
                continue

            if run is not None and index != run.passed + 1:
                if not flow.strict or index == run.passed:
                    continue
                self._close(flow, visitor, run, "abandoned")
                run = None
            if run is None:
                if index != 0 or time >= until or code == _ABANDON:
                    continue
                run = _Open(time)
                flow.open[visitor] = run
                if flow.strict:
                    strict_open.setdefault(visitor, []).append(flow)

            run.last = time
            if index > run.reached:
                run.reached = index
            if code == _PASS:
                run.passed = index
                if index == flow.final:
                    self._close(flow, visitor, run, "completed")
            elif code == _FAILURE:
                if run.failures is None:
                    run.failures = [index]
                else:
                    run.failures.append(index)
            else:
                self._close(flow, visitor, run, "abandoned")

    def _close(self, flow: _Flow, visitor: str, run: _Open, status: RunStatus, *, cancelled: bool = False) -> None:
        del flow.open[visitor]
        if flow.strict:
            opened = self._strict_open[visitor]
            opened.remove(flow)
            if not opened:
                del self._strict_open[visitor]
        self._runs.append(
            Run(
                workflow=flow.id,
                visitor=visitor,
                started=run.started,
                ended=run.last,
                status=status,
                reached=run.reached,
                passed=run.passed,
                failures=tuple(run.failures) if run.failures else _NO_FAILURES,
                cancelled=cancelled,
            )
        )

    def finish(self, as_of: float) -> list[Run]:
        """Close the runs in progress (abandoned when their window has passed at `as_of`, else
        open) and return every run, in no particular order."""
        for flow in self._flows.values():
            for visitor, run in list(flow.open.items()):
                if as_of - run.started > flow.window:
                    self._close(flow, visitor, run, "abandoned")
                else:
                    self._close(flow, visitor, run, "open")
        return self._runs


def track(rows: Iterable[StepRow], specs: Sequence[WorkflowSpec], until: float, as_of: float) -> list[Run]:
    """Rebuild the runs from time-ordered rows in one call."""
    tracker = RunTracker(specs, until)
    tracker.feed(rows)
    return tracker.finish(as_of)
