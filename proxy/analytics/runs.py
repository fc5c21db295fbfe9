"""Workflow runs: a visitor's way through a workflow's steps, rebuilt from time-ordered step events.

The rules, per visitor and workflow:

- An event of the first step starts a run when none is in progress and the event falls before
  the end of the report period. Later events of the run may come after that end, within the window.
- The window is measured from the run's first event. An event later than `started + window`
  finds the run over: it is closed as abandoned first, and the event is read as if no run were in
  progress.
- The next step of a run is the one after the last step passed. An event of the next step with
  outcome 'failure' counts a failure at that step, and the run waits for a retry. Outcome
  'abandon' ends the run as abandoned, and any other outcome passes the step. Passing the last step completes the
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
from typing import Any, Literal, NamedTuple

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
    `failures` contains the step index of each failed attempt, in order. A NamedTuple rather than a
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


# A run in progress is a list for speed: [started, last event time, passed, reached, failures or None].
_STARTED, _LAST, _PASSED, _REACHED, _FAILURES = range(5)
_Open = list[Any]


RunsByVisitor = dict[str, list[Run]]
"""One workflow's runs, grouped by visitor."""


class _Flow:
    """One workflow's spec as lookups, and its closed runs; `number` is its slot in each
    visitor's state list."""

    __slots__ = ("spec", "id", "number", "strict", "window", "final", "closed")

    def __init__(self, spec: WorkflowSpec, number: int) -> None:
        self.spec = spec
        self.id = spec.id
        self.number = number
        self.strict = spec.order == "strict"
        self.window = spec.window_seconds
        self.final = len(spec.steps) - 1
        self.closed: RunsByVisitor = {}


_Entry = tuple[_Flow | None, int, int]


class RunTracker:
    """Rebuilds runs from pages of StepRow, fed in time order; `finish` returns them.

    Feed every workflow step event of the app from the start of the period to at least
    `until` plus the longest window, whatever workflows are asked about: in strict mode any
    workflow's step can end a run.
    """

    def __init__(self, specs: Sequence[WorkflowSpec], until: float) -> None:
        self._flows = {spec.id: _Flow(spec, number) for number, spec in enumerate(specs)}
        self._until = until
        self._entries: dict[str, _Entry] = {}
        # Per visitor: the open run of each workflow (by flow number, None when there is none),
        # then the number of those runs that are strict.
        self._visitors: dict[str, list[Any]] = {}
        self._strict_slot = len(self._flows)
        self._strict_flows = [flow for flow in self._flows.values() if flow.strict]

    def _entry(self, key: str) -> _Entry:
        """Parse and cache a StepRow key: (flow or None, step index or marker, outcome code)."""
        name, _, rest = key.partition(STEP_KEY_SEPARATOR)
        step, _, outcome = rest.partition(STEP_KEY_SEPARATOR)
        if outcome == "failure":
            code = _FAILURE
        elif outcome == "abandon":
            code = _ABANDON
        else:
            code = _PASS
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
        # The common case (a step passed in turn) costs two dictionary look-ups and a few list
        # stores; everything rarer goes through _start and _close.
        entries = self._entries
        visitors = self._visitors
        until = self._until
        strict_slot = self._strict_slot
        empty_state: list[Any] = [None] * strict_slot + [0]
        close = self._close
        start = self._start
        for time, visitor, key in rows:
            entry = entries.get(key)
            if entry is None:
                entry = self._entry(key)
            flow, index, code = entry

            state = visitors.get(visitor)
            if state is None:
                if flow is None:
                    continue
                state = visitors[visitor] = empty_state.copy()
            elif state[strict_slot]:
                self._break_strict(visitor, state, flow)
            if flow is None:
                continue

            run = state[flow.number]
            if run is not None and time - run[_STARTED] > flow.window:
                close(flow, visitor, state, "abandoned", False)
                run = None

            if index < 0:
                if run is not None and (index == _EXCLUSION or flow.strict):
                    if index == _EXCLUSION:
                        run[_LAST] = time
                    close(flow, visitor, state, "abandoned", index == _EXCLUSION)
                continue

            if run is None:
                if index or time >= until or code == _ABANDON:
                    continue
                run = start(flow, state, time)
            elif index != run[_PASSED] + 1:
                if not flow.strict or index == run[_PASSED]:
                    continue
                close(flow, visitor, state, "abandoned", False)
                if index or time >= until or code == _ABANDON:
                    continue
                run = start(flow, state, time)

            run[_LAST] = time
            if index > run[_REACHED]:
                run[_REACHED] = index
            if code == _PASS:
                run[_PASSED] = index
                if index == flow.final:
                    close(flow, visitor, state, "completed", False)
            elif code == _FAILURE:
                if run[_FAILURES] is None:
                    run[_FAILURES] = [index]
                else:
                    run[_FAILURES].append(index)
            else:
                close(flow, visitor, state, "abandoned", False)

    def _break_strict(self, visitor: str, state: list[Any], current: _Flow | None) -> None:
        """End the visitor's strict runs of workflows other than `current` as abandoned."""
        for flow in self._strict_flows:
            if flow is not current and state[flow.number] is not None:
                self._close(flow, visitor, state, "abandoned", False)

    def _start(self, flow: _Flow, state: list[Any], time: float) -> _Open:
        run: _Open = [time, time, -1, 0, None]
        state[flow.number] = run
        if flow.strict:
            state[self._strict_slot] += 1
        return run

    def _close(self, flow: _Flow, visitor: str, state: list[Any], status: RunStatus, cancelled: bool) -> None:
        run = state[flow.number]
        state[flow.number] = None
        if flow.strict:
            state[self._strict_slot] -= 1
        failures = run[_FAILURES]
        closed = Run(
            flow.id,
            visitor,
            run[_STARTED],
            run[_LAST],
            status,
            run[_REACHED],
            run[_PASSED],
            tuple(failures) if failures else _NO_FAILURES,
            cancelled,
        )
        visitor_runs = flow.closed.get(visitor)
        if visitor_runs is None:
            flow.closed[visitor] = [closed]
        else:
            visitor_runs.append(closed)

    def finish(self, as_of: float) -> dict[str, RunsByVisitor]:
        """Close the runs in progress and return every run by workflow id, then by visitor.

        A run in progress is abandoned when its window has passed at `as_of`, else open. Each
        visitor's runs of a workflow are in the order they ended; every workflow has an entry.
        """
        for visitor, state in self._visitors.items():
            for flow in self._flows.values():
                run = state[flow.number]
                if run is not None:
                    status: RunStatus = "abandoned" if as_of - run[_STARTED] > flow.window else "open"
                    self._close(flow, visitor, state, status, False)
        return {flow.id: flow.closed for flow in self._flows.values()}


def track(rows: Iterable[StepRow], specs: Sequence[WorkflowSpec], until: float, as_of: float) -> list[Run]:
    """Rebuild the runs from time-ordered rows in one call; return them in one list."""
    tracker = RunTracker(specs, until)
    tracker.feed(rows)
    grouped = tracker.finish(as_of)
    return [run for by_visitor in grouped.values() for runs in by_visitor.values() for run in runs]
