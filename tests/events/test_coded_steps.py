"""Coded step rows: the stores' SQL gives every step event the code that StepCoding.code gives it."""

from __future__ import annotations

import random

import pytest

from proxy.events import Event, EventStore
from proxy.events.queries import CASE_LEAF_SIZE, coded_step_rows
from proxy.events.store import OUTCOME_ABANDON, OUTCOME_CODES, OUTCOME_FAILURE, StepCoding

# More workflows and steps than one CASE compares in a row, with names whose byte order differs
# from a naive reading ('Z' < 'a' < 'é' < '注'), so the binary search of the SQL is exercised.
NAMES = ["Zeta", "alpha", "alpha2", "beta", "été", "注文", *(f"flow{index:02d}" for index in range(14))]
STEPS = ["open", "Open", "items", "élément", "submit", *(f"step{index}" for index in range(12))]
CODING = StepCoding(tuple((name, tuple(STEPS[: 3 + index % 15])) for index, name in enumerate(NAMES)))


def test_coding_is_large_enough_for_the_search() -> None:
    assert len(NAMES) > 2 * CASE_LEAF_SIZE
    assert max(len(steps) for _, steps in CODING.workflows) > CASE_LEAF_SIZE


@pytest.mark.parametrize(
    ("name", "step", "outcome", "expected"),
    [
        pytest.param("Zeta", "open", "success", 0, id="first-step"),
        pytest.param("Zeta", "items", "failure", 2 * OUTCOME_CODES + OUTCOME_FAILURE, id="failure"),
        pytest.param("Zeta", "open", "abandon", OUTCOME_ABANDON, id="abandon"),
        pytest.param("Zeta", "open", None, 0, id="no-outcome"),
        pytest.param("Zeta", "open", "timeout", 0, id="other-outcome"),
        pytest.param("Zeta", "submit", "success", 3 * OUTCOME_CODES, id="other-step"),
        pytest.param("alpha", "open", "success", 4 * OUTCOME_CODES, id="second-workflow"),
        pytest.param("unknown", "open", "failure", (CODING.slot_count - 1) * OUTCOME_CODES + OUTCOME_FAILURE, id="unknown"),
    ],
)
def test_coding_code(name: str, step: str, outcome: str | None, expected: int) -> None:
    assert CODING.code(name, step, outcome) == expected


@pytest.mark.parametrize(
    ("workflows", "message"),
    [
        pytest.param(
            (("po", ("open",)), ("po", ("items",))),
            "step coding lists a workflow twice in ['po', 'po']; expected each workflow id once",
            id="workflow-twice",
        ),
        pytest.param(
            (("po", ("open", "open")),),
            "step coding lists a step of workflow 'po' twice; expected each step once",
            id="step-twice",
        ),
    ],
)
def test_coding_rejects(workflows: tuple[tuple[str, tuple[str, ...]], ...], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        StepCoding(workflows)
    assert str(caught.value) == message


def test_coding_without_workflows() -> None:
    coding = StepCoding(())
    sql, parameters = coded_step_rows(coding)
    assert parameters == ()
    assert coding.code("po", "open", "failure") == OUTCOME_FAILURE
    assert "(0) * 3" in sql


async def test_store_coded_step_rows(store: EventStore) -> None:
    generator = random.Random(3)
    events = []
    for index in range(1500):
        name = generator.choice([*NAMES, "unknown", "ZZ", "a"])
        step = generator.choice([*STEPS, "missing", "é"])
        outcome = generator.choice(["success", "failure", "abandon", None, "timeout"])
        events.append(
            Event(time=100.0 + index // 3, app="erp", visitor=f"v{index % 7}", kind="workflow_step", name=name, step=step, outcome=outcome)
        )
    # Left out: a step event without a step, another kind, another app.
    events.append(Event(time=200.0, app="erp", visitor="v1", kind="workflow_step", name="Zeta"))
    events.append(Event(time=201.0, app="erp", visitor="v1", kind="feature", name="Zeta", step="open"))
    events.append(Event(time=202.0, app="crm", visitor="v1", kind="workflow_step", name="Zeta", step="open"))
    await store.write(events)

    pages = [page async for page in store.coded_step_rows("erp", 150.0, 500.0, CODING, page_size=100)]
    expected = [
        (event.time, event.visitor, CODING.code(event.name, event.step, event.outcome))
        for event in events[:1500]
        if 150.0 <= event.time < 500.0 and event.name is not None and event.step is not None
    ]
    assert [len(page) for page in pages] == [100] * 10 + [50]
    assert [row for page in pages for row in page] == expected
