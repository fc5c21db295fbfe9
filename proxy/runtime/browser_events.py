"""Validation of the engagement events the runtime posts, and their conversion to stored events."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from proxy.events.model import Event
from proxy.runtime.context import RequestContext, RuntimeRequestError
from proxy.runtime.payload import check_keys, choice_field, int_field, require_object, text_field

BROWSER_KINDS = (
    "guide_shown",
    "guide_step_viewed",
    "guide_step_completed",
    "guide_completed",
    "guide_dismissed",
    "target_missing",
    "help_opened",
    "help_requested",
    "search",
)
"""Event kinds the runtime may post; the proxy itself records the others (workflow steps, features)."""

NEEDS_GUIDE = frozenset({"guide_shown", "guide_step_viewed", "guide_step_completed", "guide_completed", "guide_dismissed", "target_missing"})
NEEDS_STEP = frozenset({"guide_step_viewed", "guide_step_completed"})

FIELDS = ("kind", "guide", "step", "age", "page", "frame", "selector", "query", "locale", "revision", "trigger")
"""Fields of one posted event. `step` is 1-based as users read it; `age` is milliseconds since it happened."""

TRIGGERS = ("automatic", "first_visit", "help_menu", "element", "resume", "checklist")

MAX_EVENTS = 50
"""Events in one posted batch at most."""
MAX_BODY_BYTES = 16 * 1024
"""Bytes of one posted batch at most."""
MAX_AGE_MS = 24 * 3600 * 1000
"""Oldest event accepted, in milliseconds; the runtime sends queued events within seconds."""
MAX_QUERY_LENGTH = 100
"""Characters of a help-menu search query stored at most; the runtime cuts longer ones."""

_GUIDE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_LOCALE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


def parse_batch(body: Any, context: RequestContext, now: float) -> list[Event]:
    """Validate a posted batch `{"events": [...]}` and return its events, stamped with the context.

    Raises RuntimeRequestError 400 whose message names the first invalid field, such as
    `events[2].kind: unknown value 'x'; expected one of ...`. The batch is taken whole or not at all.
    """
    batch = require_object(body, "body")
    check_keys(batch, ("events",), "body")
    events = batch.get("events")
    if events is None:
        raise RuntimeRequestError(400, "body.events: missing; expected an array of events")
    if not isinstance(events, list):
        raise RuntimeRequestError(400, "body.events: expected an array of events")
    if not events:
        raise RuntimeRequestError(400, "body.events: empty; expected 1 to 50 events")
    if len(events) > MAX_EVENTS:
        raise RuntimeRequestError(400, f"body.events: {len(events)} events; expected at most {MAX_EVENTS} per batch")
    return [parse_event(item, f"events[{index}]", context, now) for index, item in enumerate(events)]


def parse_event(item: Any, where: str, context: RequestContext, now: float) -> Event:
    """Validate one posted event and build the stored Event."""
    value = require_object(item, where)
    check_keys(value, FIELDS, where)
    kind = choice_field(value, "kind", where, BROWSER_KINDS)
    if kind is None:
        raise RuntimeRequestError(400, f"{where}.kind: missing; expected one of {', '.join(BROWSER_KINDS)}")
    guide = text_field(value, "guide", where, max_length=64, required=kind in NEEDS_GUIDE)
    if guide is not None and not _GUIDE_ID.match(guide):
        raise RuntimeRequestError(400, f"{where}.guide: invalid guide id; expected letters, digits, '_', '.' or '-'")
    step = int_field(value, "step", where, minimum=1, maximum=1000, required=kind in NEEDS_STEP)
    age = int_field(value, "age", where, minimum=0, maximum=MAX_AGE_MS) or 0
    detail = _detail(value, where, kind)
    return Event(
        time=now - age / 1000,
        app=context.app,
        visitor=context.visitor,
        kind=kind,
        session=context.session,
        roles=tuple(context.roles),
        name=guide,
        step=None if step is None else str(step),
        detail=detail or None,
    )


def _detail(value: Mapping[str, Any], where: str, kind: str) -> dict[str, str]:
    detail: dict[str, str | None] = {
        "page": text_field(value, "page", where, max_length=512),
        "frame": text_field(value, "frame", where, max_length=200),
        "selector": text_field(value, "selector", where, max_length=300, required=kind == "target_missing"),
        "query": text_field(value, "query", where, max_length=MAX_QUERY_LENGTH, required=kind == "search"),
        "locale": text_field(value, "locale", where, max_length=35),
        "revision": text_field(value, "revision", where, max_length=32),
        "trigger": choice_field(value, "trigger", where, TRIGGERS),
    }
    page = detail["page"]
    if page is not None and not page.startswith("/"):
        raise RuntimeRequestError(400, f"{where}.page: expected a path that starts with '/'")
    locale = detail["locale"]
    if locale is not None and not _LOCALE.match(locale):
        raise RuntimeRequestError(400, f"{where}.locale: invalid locale tag; expected one such as 'en' or 'pt-BR'")
    return {key: text for key, text in detail.items() if text is not None}
