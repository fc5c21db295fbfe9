"""Tests of the Event record: normalisation, validation and the detail cap."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from proxy.events.model import DETAIL_MAX_BYTES, Event, checked_visit, decode_roles, encode_roles, epoch_seconds

BASE: dict[str, Any] = {"time": 1_700_000_000, "app": "erp", "visitor": "v1", "kind": "feature"}


def test_event_normalises_roles_and_time() -> None:
    event = Event(**BASE, roles=("manager", "clerk", "manager"))
    assert event.roles == ("clerk", "manager")
    assert event.time == 1_700_000_000.0
    assert isinstance(event.time, float)


def test_event_encodes_detail_sorted_and_compact() -> None:
    event = Event(**BASE, detail={"fields": ["b", "a"], "count": 2})
    assert event.detail_json == '{"count":2,"fields":["b","a"]}'


def test_event_truncates_large_detail() -> None:
    event = Event(**BASE, detail={"text": "x" * DETAIL_MAX_BYTES})
    assert event.detail_json == '{"bytes":2059,"truncated":true}'


def test_event_hashable_with_detail() -> None:
    assert hash(Event(**BASE, detail={"a": 1})) == hash(Event(**BASE, detail={"a": 2}))


def test_event_moment_is_utc() -> None:
    event = Event(**{**BASE, "time": 0})
    assert event.moment == datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"time": float("nan")}, "invalid event time nan; expected finite UTC epoch seconds", id="nan-time"),
        pytest.param({"time": True}, "invalid event time True; expected finite UTC epoch seconds", id="bool-time"),
        pytest.param({"app": ""}, "invalid event app ''; expected non-empty text", id="empty-app"),
        pytest.param({"visitor": None}, "invalid event visitor None; expected non-empty text", id="no-visitor"),
        pytest.param(
            {"name": "x" * 201}, "event name is 201 characters long; expected at most 200", id="long-name"
        ),
        pytest.param(
            {"step": "a\x1fb"},
            "event step 'a\\x1fb' contains a control character; expected printable text",
            id="control-step",
        ),
        pytest.param(
            {"kind": "Guide-Shown"},
            "invalid event kind 'Guide-Shown'; expected lower-case letters, digits and '_'",
            id="bad-kind",
        ),
        pytest.param(
            {"outcome": "OK"}, "invalid outcome 'OK'; expected lower-case letters, digits and '_'", id="bad-outcome"
        ),
        pytest.param({"status": "200"}, "invalid HTTP status '200'; expected an integer or None", id="text-status"),
        pytest.param(
            {"duration": -1}, "invalid duration -1; expected milliseconds of at least 0", id="negative-duration"
        ),
        pytest.param({"roles": "clerk"}, "invalid roles 'clerk'; expected a tuple of role names", id="roles-text"),
        pytest.param(
            {"roles": ("a|b",)}, "role 'a|b' contains '|'; expected a role name without '|'", id="role-pipe"
        ),
        pytest.param({"roles": ("",)}, "invalid event role ''; expected non-empty text", id="role-empty"),
        pytest.param(
            {"detail": {"when": datetime.date(2024, 1, 1)}},
            "detail is not JSON-serialisable: Object of type date is not JSON serializable; "
            "expected text, numbers, lists and mappings",
            id="detail-date",
        ),
        pytest.param(
            {"detail": ["a"]}, "invalid detail of type list; expected a mapping", id="detail-list"
        ),
    ],
)
def test_event_rejects(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        Event(**{**BASE, **changes})
    assert str(caught.value) == message


TEMPLATE: dict[str, Any] = {**BASE, "roles": ("manager", "clerk"), "name": "raise-po", "step": "submit", "outcome": "success"}


@pytest.mark.parametrize(
    ("visit", "detail"),
    [
        pytest.param({"time": 1_700_000_100.5, "visitor": "v2", "status": 302, "duration": 12.5}, None, id="floats"),
        pytest.param({"time": 1_700_000_100, "visitor": "v2", "status": None, "duration": 3}, None, id="ints-and-none"),
        pytest.param({"time": 1_700_000_100.5, "visitor": "v2", "status": 200, "duration": None}, {"a": 1}, id="detail"),
    ],
)
def test_checked_visit_equals_constructor(visit: dict[str, Any], detail: dict[str, Any] | None) -> None:
    event = Event(**{**TEMPLATE, **visit, "detail": detail})
    checked = checked_visit(visit["time"], visit["visitor"], visit["status"], visit["duration"])
    assert checked == (event.time, event.visitor, event.status, event.duration)
    assert type(checked[0]) is float
    assert checked[3] is None or type(checked[3]) is float


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"time": float("inf")}, "invalid event time inf; expected finite UTC epoch seconds", id="inf-time"),
        pytest.param({"time": True}, "invalid event time True; expected finite UTC epoch seconds", id="bool-time"),
        pytest.param({"visitor": ""}, "invalid event visitor ''; expected non-empty text", id="empty-visitor"),
        pytest.param(
            {"visitor": "v\n"},
            "event visitor 'v\\n' contains a control character; expected printable text",
            id="control-visitor",
        ),
        pytest.param({"status": "200"}, "invalid HTTP status '200'; expected an integer or None", id="text-status"),
        pytest.param({"duration": True}, "invalid duration True; expected milliseconds or None", id="bool-duration"),
        pytest.param(
            {"duration": -0.5}, "invalid duration -0.5; expected milliseconds of at least 0", id="negative-duration"
        ),
    ],
)
def test_checked_visit_rejects(changes: dict[str, Any], message: str) -> None:
    visit: dict[str, Any] = {"time": 1_700_000_100.5, "visitor": "v2", "status": 200, "duration": 1.0, **changes}
    with pytest.raises(ValueError) as caught:
        checked_visit(visit["time"], visit["visitor"], visit["status"], visit["duration"])
    assert str(caught.value) == message
    with pytest.raises(ValueError) as constructed:
        Event(**{**TEMPLATE, **visit})
    assert str(constructed.value) == message


@pytest.mark.parametrize(
    ("roles", "text"),
    [
        pytest.param((), "", id="none"),
        pytest.param(("clerk",), "|clerk|", id="one"),
        pytest.param(("clerk", "manager"), "|clerk|manager|", id="two"),
    ],
)
def test_roles_round_trip(roles: tuple[str, ...], text: str) -> None:
    assert encode_roles(roles) == text
    assert decode_roles(text) == roles


def test_epoch_seconds_rejects_naive() -> None:
    with pytest.raises(ValueError) as caught:
        epoch_seconds(datetime.datetime(2024, 3, 1, 12, 0))
    assert str(caught.value) == (
        "datetime 2024-03-01T12:00:00 has no timezone; expected an aware datetime (UTC)"
    )


def test_epoch_seconds_aware() -> None:
    moment = datetime.datetime(2024, 3, 1, tzinfo=datetime.timezone.utc)
    assert epoch_seconds(moment) == 1_709_251_200.0
