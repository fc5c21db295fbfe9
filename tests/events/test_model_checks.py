"""Tests of Event construction: remembered values give the same check results, and the written-out __init__ behaves as a dataclass's."""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import pytest

from proxy.events import model
from proxy.events.model import Event

BASE: dict[str, Any] = {"time": 1_700_000_000.5, "app": "erp", "visitor": "v1", "kind": "workflow_step"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"time": float("inf")}, "invalid event time inf; expected finite UTC epoch seconds", id="infinite-time"),
        pytest.param({"time": -float("inf")}, "invalid event time -inf; expected finite UTC epoch seconds", id="negative-infinite-time"),
        pytest.param({"name": "a\x1fb"}, "event name 'a\\x1fb' contains a control character; expected printable text", id="control-name"),
        pytest.param({"visitor": "ü\x7f"}, "event visitor 'ü\\x7f' contains a control character; expected printable text", id="control-non-ascii"),
        pytest.param({"outcome": "workflow-step"}, "invalid outcome 'workflow-step'; expected lower-case letters, digits and '_'", id="dash-outcome"),
        pytest.param({"duration": float("inf")}, "invalid duration inf; expected milliseconds of at least 0", id="infinite-duration"),
        pytest.param({"duration": float("nan")}, "invalid duration nan; expected milliseconds of at least 0", id="nan-duration"),
        pytest.param({"duration": -0.5}, "invalid duration -0.5; expected milliseconds of at least 0", id="negative-duration"),
        pytest.param({"status": True}, "invalid HTTP status True; expected an integer or None", id="bool-status"),
        pytest.param({"roles": frozenset({"a|b"})}, "role 'a|b' contains '|'; expected a role name without '|'", id="frozenset-pipe"),
        pytest.param({"roles": (["x"],)}, "invalid event role ['x']; expected non-empty text", id="unhashable-role"),
    ],
)
def test_event_rejects_after_valid(changes: dict[str, Any], message: str) -> None:
    # The valid event first, so every shortcut has remembered its values before the invalid one.
    Event(**BASE, name="raise-po", outcome="success", roles=frozenset({"clerk"}), duration=1.5)
    with pytest.raises(ValueError) as raised:
        Event(**{**BASE, **changes})
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("changes", "field", "expected"),
    [
        pytest.param({"time": 5}, "time", 5.0, id="int-time"),
        pytest.param({"duration": 3}, "duration", 3.0, id="int-duration"),
        pytest.param({"duration": -0.0}, "duration", -0.0, id="negative-zero-duration"),
        pytest.param({"roles": frozenset({"b", "a"})}, "roles", ("a", "b"), id="frozenset-roles"),
        pytest.param({"roles": ["b", "a", "b"]}, "roles", ("a", "b"), id="list-roles"),
        pytest.param({"visitor": "ü-1"}, "visitor", "ü-1", id="non-ascii-visitor"),
    ],
)
def test_event_accepts(changes: dict[str, Any], field: str, expected: object) -> None:
    for _ in range(2):
        value = getattr(Event(**{**BASE, **changes}), field)
        assert value == expected
        assert type(value) is type(expected)


def test_event_remembered_values_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model, "MAX_REMEMBERED", 3)
    monkeypatch.setattr(model, "_CHECKED_IDS", set())
    for index in range(10):
        Event(**{**BASE, "app": f"app{index}"})
    assert len(model._CHECKED_IDS) <= 3


def test_event_frozen() -> None:
    event = Event(**BASE)
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'app'"):
        event.app = "crm"  # type: ignore[misc]


def test_event_replace_and_pickle() -> None:
    event = Event(**BASE, roles=("clerk",), detail={"fields": ["a"]})
    replaced = dataclasses.replace(event, outcome="success")
    assert replaced == Event(**BASE, roles=("clerk",), detail={"fields": ["a"]}, outcome="success")
    assert replaced.detail_json == '{"fields":["a"]}'
    assert pickle.loads(pickle.dumps(event)) == event


def test_event_fields_and_defaults() -> None:
    event = Event(**BASE)
    assert [field.name for field in dataclasses.fields(Event)] == [
        "time", "app", "visitor", "kind", "session", "roles", "name", "step", "outcome", "status", "duration", "detail", "detail_json",
    ]
    assert (event.session, event.roles, event.name, event.step, event.outcome, event.status, event.duration, event.detail, event.detail_json) == (
        None, (), None, None, None, None, None, None, None,
    )
