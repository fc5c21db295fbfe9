"""The event record: one thing a visitor did, as the proxy or the browser runtime saw it."""

from __future__ import annotations

import datetime
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

KINDS = frozenset(
    {
        "workflow_step",
        "feature",
        "guide_shown",
        "guide_step_viewed",
        "guide_step_completed",
        "guide_completed",
        "guide_dismissed",
        "target_missing",
        "help_opened",
        "help_requested",
        "search",
    }
)
"""Event kinds the reports read. Other kinds that match KIND_PATTERN are stored but not reported."""

OUTCOMES = frozenset({"success", "failure", "abandon"})
"""Outcomes the run analysis interprets; any other outcome of a step counts as reaching it."""

KIND_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,31}")
OUTCOME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,31}")
DETAIL_MAX_BYTES = 2048
"""Largest detail JSON (UTF-8 bytes) stored; a larger detail is replaced by a truncation marker."""

MAX_ID_LENGTH = 200
"""Maximum length of an app, visitor, session, role, name or step."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def epoch_seconds(moment: datetime.datetime) -> float:
    """Convert a timezone-aware datetime to UTC epoch seconds; raise ValueError for a naive one."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"datetime {moment.isoformat()} has no timezone; expected an aware datetime (UTC)")
    return moment.timestamp()


def encode_roles(roles: tuple[str, ...]) -> str:
    """Encode sorted roles as stored: '|clerk|manager|', or '' for no role."""
    return f"|{'|'.join(roles)}|" if roles else ""


def decode_roles(text: str | None) -> tuple[str, ...]:
    """Decode the stored roles text back to a tuple."""
    if not text:
        return ()
    return tuple(text.strip("|").split("|"))


@dataclass(frozen=True, kw_only=True, slots=True)
class Event:
    """One recorded event.

    `time` is UTC epoch seconds. `roles` is normalised to a sorted tuple without duplicates.
    `detail` is a small JSON object, encoded once here. A detail larger than DETAIL_MAX_BYTES is
    replaced by `{"truncated": true, "bytes": N}`, so the event itself is kept.
    Construction raises ValueError for a value the store could not keep faithfully (an empty or
    too long id, a control character, a '|' in a role, a kind outside KIND_PATTERN).
    """

    time: float
    app: str
    visitor: str
    kind: str
    session: str | None = None
    roles: tuple[str, ...] = ()
    name: str | None = None
    step: str | None = None
    outcome: str | None = None
    status: int | None = None
    duration: float | None = None
    """Milliseconds the upstream took, when the proxy measured it."""
    detail: Mapping[str, Any] | None = field(default=None, hash=False)
    detail_json: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.time, bool) or not isinstance(self.time, (int, float)) or not math.isfinite(self.time):
            raise ValueError(f"invalid event time {self.time!r}; expected finite UTC epoch seconds")
        object.__setattr__(self, "time", float(self.time))
        _check_id("app", self.app, required=True)
        _check_id("visitor", self.visitor, required=True)
        _check_id("session", self.session)
        _check_id("name", self.name)
        _check_id("step", self.step)
        if not isinstance(self.kind, str) or not KIND_PATTERN.fullmatch(self.kind):
            raise ValueError(f"invalid event kind {self.kind!r}; expected lower-case letters, digits and '_'")
        if self.outcome is not None and not (
            isinstance(self.outcome, str) and OUTCOME_PATTERN.fullmatch(self.outcome)
        ):
            raise ValueError(f"invalid outcome {self.outcome!r}; expected lower-case letters, digits and '_'")
        if self.status is not None and (isinstance(self.status, bool) or not isinstance(self.status, int)):
            raise ValueError(f"invalid HTTP status {self.status!r}; expected an integer or None")
        if self.duration is not None:
            if isinstance(self.duration, bool) or not isinstance(self.duration, (int, float)):
                raise ValueError(f"invalid duration {self.duration!r}; expected milliseconds or None")
            if not math.isfinite(self.duration) or self.duration < 0:
                raise ValueError(f"invalid duration {self.duration!r}; expected milliseconds of at least 0")
            object.__setattr__(self, "duration", float(self.duration))
        object.__setattr__(self, "roles", _normalise_roles(self.roles))
        object.__setattr__(self, "detail_json", _encode_detail(self.detail))

    @property
    def moment(self) -> datetime.datetime:
        """The event time as an aware UTC datetime."""
        return datetime.datetime.fromtimestamp(self.time, datetime.timezone.utc)


def _check_id(label: str, value: object, *, required: bool = False) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str) or not value:
        raise ValueError(f"invalid event {label} {value!r}; expected non-empty text")
    if len(value) > MAX_ID_LENGTH:
        raise ValueError(f"event {label} is {len(value)} characters long; expected at most {MAX_ID_LENGTH}")
    if _CONTROL.search(value):
        raise ValueError(f"event {label} {value!r} contains a control character; expected printable text")


def _normalise_roles(roles: object) -> tuple[str, ...]:
    if isinstance(roles, str) or not isinstance(roles, (tuple, list, frozenset, set)):
        raise ValueError(f"invalid roles {roles!r}; expected a tuple of role names")
    for role in roles:
        _check_id("role", role, required=True)
        if "|" in role:
            raise ValueError(f"role {role!r} contains '|'; expected a role name without '|'")
    return tuple(sorted(set(roles)))


def _encode_detail(detail: Mapping[str, Any] | None) -> str | None:
    if detail is None:
        return None
    if not isinstance(detail, Mapping):
        raise ValueError(f"invalid detail of type {type(detail).__name__}; expected a mapping")
    try:
        text = json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"detail is not JSON-serialisable: {error}; expected text, numbers, lists and mappings") from None
    size = len(text.encode("utf-8"))
    if size > DETAIL_MAX_BYTES:
        return json.dumps({"bytes": size, "truncated": True}, separators=(",", ":"))
    return text
