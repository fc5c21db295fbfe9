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
from proxy.events.store import (
    OUTCOME_ABANDON,
    OUTCOME_FAILURE,
    OUTCOME_PASS,
    STEP_KEY_SEPARATOR,
    CodedStepRow,
    StepCoding,
    StepRow,
)

RunStatus = Literal["completed", "abandoned", "open"]

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

RunsByVisitor = dict[str, list[Run]]
"""One workflow's runs, grouped by visitor."""


class TrackedWorkflow:
    """One workflow's spec as the state machine reads it.

    In each visitor's state list, `number` is the slot of the workflow's run in progress and
    `collected_slot` the slot of what a RunMachine subclass collects of its closed runs.
    """

    __slots__ = ("spec", "id", "number", "collected_slot", "strict", "window", "final")

    def __init__(self, spec: WorkflowSpec, number: int, count: int) -> None:
        self.spec = spec
        self.id = spec.id
        self.number = number
        self.collected_slot = count + 1 + number
        self.strict = spec.order == "strict"
        self.window = spec.window_seconds
        self.final = len(spec.steps) - 1


_Entry = tuple[TrackedWorkflow | None, int, int]
"""The meaning of a step code: (workflow or None, step index or marker, outcome code)."""


class RunMachine:
    """The run rules as a state machine over step rows fed in time order, for every workflow of an app.

    Feed every workflow step event of the app from the start of the period to at least `until`
    plus the longest window, whatever workflows are asked about: in strict mode any workflow's
    step can end a run. Rows come either as StepRow (`feed`) or as CodedStepRow coded by `coding`
    (`feed_coded`), which is cheaper to read from a store. Subclasses decide in `_record` what
    to collect of each closed run.
    """

    def __init__(self, specs: Sequence[WorkflowSpec], until: float) -> None:
        unique = {spec.id: spec for spec in specs}
        self._flows = {
            spec.id: TrackedWorkflow(spec, number, len(unique)) for number, spec in enumerate(unique.values())
        }
        self._until = until
        self.coding = StepCoding(
            tuple((flow.id, (*flow.spec.steps, *flow.spec.exclusions)) for flow in self._flows.values())
        )
        self._entries = self._decode_table()
        self._key_codes: dict[str, int] = {}
        # Per visitor: the run in progress of each workflow (by number, None when there is none),
        # the number of those runs that are strict, then what is collected of each workflow's
        # closed runs (by collected_slot, None before the first).
        self._visitors: dict[str, list[Any]] = {}
        self._strict_slot = len(self._flows)
        self._strict_flows = [flow for flow in self._flows.values() if flow.strict]

    def _decode_table(self) -> list[_Entry]:
        """Return the meaning of every step code of `coding`, indexed by code."""
        outcomes = (OUTCOME_PASS, OUTCOME_FAILURE, OUTCOME_ABANDON)
        entries: list[_Entry] = []
        for flow in self._flows.values():
            steps = len(flow.spec.steps)
            for index in range(steps + len(flow.spec.exclusions)):
                marker = index if index < steps else _EXCLUSION
                entries.extend((flow, marker, outcome) for outcome in outcomes)
            entries.extend((flow, _OTHER_STEP, outcome) for outcome in outcomes)
        entries.extend((None, _OTHER_STEP, outcome) for outcome in outcomes)
        return entries

    def _key_code(self, key: str) -> int:
        """Return the code of a StepRow key under `coding`, and cache it."""
        name, _, rest = key.partition(STEP_KEY_SEPARATOR)
        step, _, outcome = rest.partition(STEP_KEY_SEPARATOR)
        code = self.coding.code(name, step, outcome)
        self._key_codes[key] = code
        return code

    def feed(self, rows: Iterable[StepRow]) -> None:
        """Process step events given by key; rows must continue the time order of earlier calls."""
        codes = self._key_codes
        coded: list[CodedStepRow] = []
        for time, visitor, key in rows:
            code = codes.get(key)
            if code is None:
                code = self._key_code(key)
            coded.append((time, visitor, code))
        self.feed_coded(coded)

    def feed_coded(self, rows: Iterable[CodedStepRow]) -> None:
        """Process step events coded by `coding`; rows must continue the time order of earlier calls."""
        # The common case (a step passed in turn) costs one dictionary look-up and a few list
        # stores; everything rarer goes through _close.
        entries = self._entries
        visitors = self._visitors
        until = self._until
        strict_slot = self._strict_slot
        empty_state: list[Any] = [None] * strict_slot + [0] + [None] * strict_slot
        close = self._close
        for time, visitor, code in rows:
            flow, index, outcome = entries[code]

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

            if run is not None and index != run[_PASSED] + 1:
                if not flow.strict or index == run[_PASSED]:
                    continue
                close(flow, visitor, state, "abandoned", False)
                run = None
            if run is None:
                if index or time >= until or outcome == OUTCOME_ABANDON:
                    continue
                run = state[flow.number] = [time, time, -1, 0, None]
                if flow.strict:
                    state[strict_slot] += 1

            run[_LAST] = time
            if index > run[_REACHED]:
                run[_REACHED] = index
            if outcome == OUTCOME_PASS:
                run[_PASSED] = index
                if index == flow.final:
                    close(flow, visitor, state, "completed", False)
            elif outcome == OUTCOME_FAILURE:
                if run[_FAILURES] is None:
                    run[_FAILURES] = [index]
                else:
                    run[_FAILURES].append(index)
            else:
                close(flow, visitor, state, "abandoned", False)

    def _break_strict(self, visitor: str, state: list[Any], current: TrackedWorkflow | None) -> None:
        """End the visitor's strict runs of workflows other than `current` as abandoned."""
        for flow in self._strict_flows:
            if flow is not current and state[flow.number] is not None:
                self._close(flow, visitor, state, "abandoned", False)

    def _close(
        self, flow: TrackedWorkflow, visitor: str, state: list[Any], status: RunStatus, cancelled: bool
    ) -> None:
        run = state[flow.number]
        state[flow.number] = None
        if flow.strict:
            state[self._strict_slot] -= 1
        slot = flow.collected_slot
        state[slot] = self._record(
            flow,
            state[slot],
            visitor,
            run[_STARTED],
            run[_LAST],
            status,
            run[_REACHED],
            run[_PASSED],
            run[_FAILURES],
            cancelled,
        )

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
    ) -> Any:
        """Return what to collect of the visitor's closed runs of `flow` once this run is added.

        `collected` is what the previous call returned for this visitor and workflow (None for the
        first run); `failures` is None when no attempt failed. The fields are those of Run.
        """
        raise NotImplementedError

    def _finish(self, as_of: float) -> dict[str, dict[str, Any]]:
        """Close the runs in progress and return what was collected, by workflow id, then by visitor.

        A run in progress is abandoned when its window has passed at `as_of`, else open. Every
        workflow has an entry; a visitor without a run of a workflow has none in it.
        """
        for visitor, state in self._visitors.items():
            for flow in self._flows.values():
                run = state[flow.number]
                if run is not None:
                    status: RunStatus = "abandoned" if as_of - run[_STARTED] > flow.window else "open"
                    self._close(flow, visitor, state, status, False)
        return {
            flow.id: {
                visitor: state[flow.collected_slot]
                for visitor, state in self._visitors.items()
                if state[flow.collected_slot] is not None
            }
            for flow in self._flows.values()
        }


_new_tuple = tuple.__new__


class RunTracker(RunMachine):
    """A RunMachine that keeps the runs themselves; `finish` returns them."""

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
    ) -> list[Run]:
        # tuple.__new__ skips the Python-level __new__ that NamedTuple generates.
        run = _new_tuple(
            Run,
            (
                flow.id,
                visitor,
                started,
                ended,
                status,
                reached,
                passed,
                tuple(failures) if failures else _NO_FAILURES,
                cancelled,
            ),
        )
        runs: list[Run] | None = collected
        if runs is None:
            return [run]
        runs.append(run)
        return runs

    def finish(self, as_of: float) -> dict[str, RunsByVisitor]:
        """Close the runs in progress and return every run by workflow id, then by visitor.

        A run in progress is abandoned when its window has passed at `as_of`, else open. Each
        visitor's runs of a workflow are in the order they ended; every workflow has an entry.
        """
        return self._finish(as_of)


def track(rows: Iterable[StepRow], specs: Sequence[WorkflowSpec], until: float, as_of: float) -> list[Run]:
    """Rebuild the runs from time-ordered rows in one call; return them in one list."""
    tracker = RunTracker(specs, until)
    tracker.feed(rows)
    grouped = tracker.finish(as_of)
    return [run for by_visitor in grouped.values() for runs in by_visitor.values() for run in runs]
