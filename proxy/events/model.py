"""The event record: one thing a visitor did, as the proxy or the browser runtime saw it."""

from __future__ import annotations

import datetime
import json
import math
import re
from collections.abc import Collection, Mapping
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

MAX_REMEMBERED = 4096
"""Checked values kept per cache below; a full cache is emptied and fills again."""

# Values that passed their check before. The same app, kind, workflow, step, outcome and roles
# recur in most events, so each is checked once. Visitor and session ids vary, so the constructor
# always checks them. Only checked_visit remembers visitors, for reused Records.
_CHECKED_IDS: set[str] = set()
_CHECKED_VISITORS: set[str] = set()
_CHECKED_KINDS: set[str] = set()
_CHECKED_OUTCOMES: set[str] = set()
_NORMALISED_ROLES: dict[tuple[str, ...] | frozenset[str], tuple[str, ...]] = {}


Record = tuple[float, str, str, str | None, str, str, str | None, str | None, str | None, int | None, float | None, str | None]
"""The column values of one event as stored: time, app, visitor, session, encoded roles, kind,
name, step, outcome, status, duration and detail JSON."""


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


@dataclass(frozen=True, kw_only=True, slots=True, init=False)
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

    # Written out instead of generated: the __init__ of a frozen dataclass sets each field through
    # object.__setattr__, which took most of the time of building an event (one per captured request).
    def __init__(
        self,
        *,
        time: float,
        app: str,
        visitor: str,
        kind: str,
        session: str | None = None,
        roles: Collection[str] = (),
        name: str | None = None,
        step: str | None = None,
        outcome: str | None = None,
        status: int | None = None,
        duration: float | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        # Each check starts with a shortcut for the common value (a float, an id seen before), whose
        # result is the same as the full check's.
        if type(time) is not float or not -math.inf < time < math.inf:
            time = _checked_time(time)
        if type(app) is not str or app not in _CHECKED_IDS:
            _check_known_id("app", app, required=True)
        _check_id("visitor", visitor, required=True)
        if session is not None:
            _check_id("session", session)
        if name is not None and (type(name) is not str or name not in _CHECKED_IDS):
            _check_known_id("name", name)
        if step is not None and (type(step) is not str or step not in _CHECKED_IDS):
            _check_known_id("step", step)
        if (type(kind) is not str or kind not in _CHECKED_KINDS) and not _matches_known(KIND_PATTERN, kind, _CHECKED_KINDS):
            raise ValueError(f"invalid event kind {kind!r}; expected lower-case letters, digits and '_'")
        if outcome is not None and (type(outcome) is not str or outcome not in _CHECKED_OUTCOMES):
            if not _matches_known(OUTCOME_PATTERN, outcome, _CHECKED_OUTCOMES):
                raise ValueError(f"invalid outcome {outcome!r}; expected lower-case letters, digits and '_'")
        if status is not None and type(status) is not int:
            _check_status(status)
        if duration is not None and (type(duration) is not float or not 0.0 <= duration < math.inf):
            duration = _checked_duration(duration)
        normalised_roles = _NORMALISED_ROLES.get(roles) if type(roles) is frozenset else None
        if normalised_roles is None:
            normalised_roles = _normalise_roles(roles)
        detail_json = _encode_detail(detail) if detail is not None else None

        _set_time(self, time)
        _set_app(self, app)
        _set_visitor(self, visitor)
        _set_kind(self, kind)
        _set_session(self, session)
        _set_roles(self, normalised_roles)
        _set_name(self, name)
        _set_step(self, step)
        _set_outcome(self, outcome)
        _set_status(self, status)
        _set_duration(self, duration)
        _set_detail(self, detail)
        _set_detail_json(self, detail_json)

    @property
    def moment(self) -> datetime.datetime:
        """The event time as an aware UTC datetime."""
        return datetime.datetime.fromtimestamp(self.time, datetime.timezone.utc)


# The slots' own setters, which write a field of a frozen instance without object.__setattr__.
(
    _set_time,
    _set_app,
    _set_visitor,
    _set_kind,
    _set_session,
    _set_roles,
    _set_name,
    _set_step,
    _set_outcome,
    _set_status,
    _set_duration,
    _set_detail,
    _set_detail_json,
) = (
    getattr(Event, slot).__set__
    for slot in (
        "time",
        "app",
        "visitor",
        "kind",
        "session",
        "roles",
        "name",
        "step",
        "outcome",
        "status",
        "duration",
        "detail",
        "detail_json",
    )
)


Entry = Event | Record
"""An event submitted for storage: an Event, or the Record of one built from a checked Event."""


def checked_visit(time: object, visitor: object, status: object, duration: object) -> tuple[float, str, int | None, float | None]:
    """Return an event's time, visitor, HTTP status and duration as the constructor stores them.

    Raises ValueError with the constructor's message for a value it rejects. Capture calls this
    when it reuses an earlier Record with these four values replaced. Valid visitor ids are
    remembered (at most MAX_REMEMBERED), because a returning visitor sends many requests.
    """
    if type(time) is not float or not -math.inf < time < math.inf:
        time = _checked_time(time)
    if type(visitor) is not str or visitor not in _CHECKED_VISITORS:
        _check_id("visitor", visitor, required=True)
        _remember(_CHECKED_VISITORS, visitor)  # type: ignore[arg-type]  # a str: _check_id passed
    if status is not None and type(status) is not int:
        _check_status(status)
    if duration is not None and (type(duration) is not float or not 0.0 <= duration < math.inf):
        duration = _checked_duration(duration)
    return time, visitor, status, duration  # type: ignore[return-value]  # checked above


def _checked_time(time: object) -> float:
    """Return `time` as a float; raise ValueError unless it is a finite number."""
    if isinstance(time, bool) or not isinstance(time, (int, float)) or not math.isfinite(time):
        raise ValueError(f"invalid event time {time!r}; expected finite UTC epoch seconds")
    return float(time)


def _check_status(status: object) -> None:
    """Raise ValueError unless `status` is an integer; a bool is not one."""
    if isinstance(status, bool) or not isinstance(status, int):
        raise ValueError(f"invalid HTTP status {status!r}; expected an integer or None")


def _checked_duration(duration: object) -> float:
    """Return `duration` as a float; raise ValueError unless it is a finite number of at least 0."""
    if isinstance(duration, bool) or not isinstance(duration, (int, float)):
        raise ValueError(f"invalid duration {duration!r}; expected milliseconds or None")
    if not math.isfinite(duration) or duration < 0:
        raise ValueError(f"invalid duration {duration!r}; expected milliseconds of at least 0")
    return float(duration)


def _check_id(label: str, value: object, *, required: bool = False) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str) or not value:
        raise ValueError(f"invalid event {label} {value!r}; expected non-empty text")
    if len(value) > MAX_ID_LENGTH:
        raise ValueError(f"event {label} is {len(value)} characters long; expected at most {MAX_ID_LENGTH}")
    # An ASCII string is printable exactly when it has no control character, which spares the regex.
    if not (value.isascii() and value.isprintable()) and _CONTROL.search(value):
        raise ValueError(f"event {label} {value!r} contains a control character; expected printable text")


def _check_known_id(label: str, value: object, *, required: bool = False) -> None:
    """`_check_id` for a value that recurs across events: a value that passed once is not checked again."""
    if type(value) is str and value in _CHECKED_IDS:
        return
    _check_id(label, value, required=required)
    if type(value) is str:
        _remember(_CHECKED_IDS, value)


def _matches_known(pattern: re.Pattern[str], value: object, matched: set[str]) -> bool:
    """Return whether `value` is text that `pattern` matches in full, remembering it in `matched` (that pattern's set)."""
    if type(value) is str and value in matched:
        return True
    if not isinstance(value, str) or not pattern.fullmatch(value):
        return False
    if type(value) is str:
        _remember(matched, value)
    return True


def _remember(checked: set[str], value: str) -> None:
    if len(checked) >= MAX_REMEMBERED:
        checked.clear()
    checked.add(value)


def _normalise_roles(roles: object) -> tuple[str, ...]:
    if type(roles) is tuple or type(roles) is frozenset:
        try:
            known = _NORMALISED_ROLES.get(roles)
        except TypeError:  # a tuple with an unhashable item, rejected below
            known = None
        if known is not None:
            return known
    if isinstance(roles, str) or not isinstance(roles, (tuple, list, frozenset, set)):
        raise ValueError(f"invalid roles {roles!r}; expected a tuple of role names")
    for role in roles:
        _check_id("role", role, required=True)
        if "|" in role:
            raise ValueError(f"role {role!r} contains '|'; expected a role name without '|'")
    normalised = tuple(sorted(set(roles)))
    if (type(roles) is tuple or type(roles) is frozenset) and all(type(role) is str for role in roles):
        if len(_NORMALISED_ROLES) >= MAX_REMEMBERED:
            _NORMALISED_ROLES.clear()
        _NORMALISED_ROLES[roles] = normalised
    return normalised


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
