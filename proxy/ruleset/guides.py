"""The guide model of rule files: walkthroughs, tips, hotspots, announcements, banners and checklists."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo

from proxy.ruleset.audience import AUDIENCE_SCHEMA, Audience, bind_audience
from proxy.ruleset.patterns import RequestPattern
from proxy.ruleset.values import (
    DATE_SCHEMA,
    ID_SCHEMA,
    TEXT_SCHEMA,
    Text,
    bind_date,
    parse_browser_selector,
    parse_id,
    parse_timezone,
)
from proxy.yamlbind import setting

GuideKind = Literal["walkthrough", "tip", "hotspot", "announcement", "banner", "checklist"]
Placement = Literal["auto", "top", "bottom", "left", "right"]
OnMissing = Literal["skip", "end"]

SELECTORS_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "array", "items": {"type": "string"}, "minItems": 1}, {"type": "string"}],
    "description": "a CSS selector, or a list of alternatives tried in order",
}


@dataclass(frozen=True)
class Target:
    """The element a step or tip points at: selectors tried in order, an optional text and frame."""

    __scalar_field__: ClassVar[str] = "selector"

    selector: tuple[str, ...] = setting(
        parse=parse_browser_selector,
        schema=SELECTORS_SCHEMA,
        help="a CSS selector, or a list of alternatives; the first that finds a visible element wins",
    )
    text: str | None = setting(None, help="the element's text must contain this (case and spacing ignored)")
    frame: str | None = setting(None, help="name of the frame or iframe the element is in")
    wait: float | None = setting(
        None,
        minimum=0,
        maximum=120,
        help="seconds the browser waits for the element to appear before it counts as missing (default 5)",
    )


@dataclass(frozen=True)
class Advance:
    """The event that moves a walkthrough step on: a Next button, a click on the target, a field change, a page load."""

    __scalar_field__: ClassVar[str] = "mode"

    mode: Literal["button", "click", "change", "page"] | None = setting(
        None, help="button (default), click (on the target), change (of the target field) or page"
    )
    page: RequestPattern | None = setting(
        None, help="with mode page: the next page load that moves on; the next step shows there"
    )

    def __post_init__(self) -> None:
        if self.mode is None:
            object.__setattr__(self, "mode", "page" if self.page is not None else "button")
        if self.mode == "page" and self.page is None:
            raise ValueError("mode 'page' needs 'page:', the pattern of the page that moves the walkthrough on")
        if self.mode != "page" and self.page is not None:
            raise ValueError(f"'page:' applies only to mode page, not {self.mode}; expected mode: page or no 'page:'")


@dataclass(frozen=True)
class Step:
    """One step of a walkthrough."""

    body: Text = setting(schema=TEXT_SCHEMA, help="the text of the step: a string, or a mapping locale -> string")
    title: Text | None = setting(None, schema=TEXT_SCHEMA, help="heading of the step")
    target: Target | None = setting(None, help="element the step points at; without it the step is a centred dialog")
    placement: Placement = setting("auto", help="side of the target the step appears on")
    advance: Advance = setting(default_factory=Advance, help="how the step moves on: button, click, change or {page: ...}")
    on_missing: OnMissing | None = setting(
        None, help="when the target is not found: skip this step or end the guide (default: the guide's on_missing)"
    )


@dataclass(frozen=True)
class Trigger:
    """When a guide starts: automatically, on the first visit, from the help menu, or on an element event."""

    __scalar_field__: ClassVar[str] = "mode"

    mode: Literal["automatic", "first_visit", "help_menu", "element"] | None = setting(
        None, help="automatic, first_visit, help_menu, or element (with selector and event)"
    )
    selector: str | None = setting(None, parse=parse_browser_selector, help="with mode element: the element watched")
    event: Literal["click", "focus", "blur", "change", "input", "mouseover", "submit"] = setting(
        "click", help="with mode element: the DOM event that starts the guide"
    )

    def __post_init__(self) -> None:
        if self.mode is None:
            object.__setattr__(self, "mode", "element" if self.selector is not None else "automatic")
        if self.mode == "element" and self.selector is None:
            raise ValueError("mode 'element' needs 'selector:', the element whose event starts the guide")
        if self.mode != "element" and self.selector is not None:
            raise ValueError(f"'selector:' applies only to mode element, not {self.mode}")


@dataclass(frozen=True)
class Frequency:
    """How often a user sees a guide."""

    __scalar_field__: ClassVar[str] = "mode"

    mode: Literal["once", "until_completed", "every_visit", "max_times"] | None = setting(
        None, help="once, until_completed, every_visit, or max_times (with max_times: N)"
    )
    max_times: int | None = setting(None, minimum=1, help="with mode max_times: how many times at most")

    def __post_init__(self) -> None:
        if self.mode is None and self.max_times is not None:
            object.__setattr__(self, "mode", "max_times")
        if self.mode == "max_times" and self.max_times is None:
            raise ValueError("mode 'max_times' needs 'max_times:', a count such as 3")
        if self.mode not in (None, "max_times") and self.max_times is not None:
            raise ValueError(f"'max_times:' applies only to mode max_times, not {self.mode}")


@dataclass(frozen=True)
class Schedule:
    """The period a guide is shown in; a date covers its whole day in the schedule's time zone."""

    start: date | datetime | None = setting(
        None, key="from", binder=bind_date, schema=DATE_SCHEMA, help="first day or time shown, e.g. 2026-03-01"
    )
    until: date | datetime | None = setting(
        None, binder=bind_date, schema=DATE_SCHEMA, help="last day shown (inclusive), or the time it stops"
    )
    timezone: str = setting("UTC", parse=parse_timezone, help="IANA time zone of dates and local times, e.g. Europe/Berlin")
    starts_at: datetime | None = field(default=None, init=False, compare=False)
    ends_at: datetime | None = field(default=None, init=False, compare=False)

    def __post_init__(self) -> None:
        zone = ZoneInfo(self.timezone)
        object.__setattr__(self, "starts_at", _instant(self.start, zone, end=False))
        object.__setattr__(self, "ends_at", _instant(self.until, zone, end=True))

    def explain(self, now: datetime) -> str | None:
        """Say why the guide is not shown at `now` (aware), or return None when it is in the period."""
        if self.starts_at is not None and now < self.starts_at:
            return f"schedule starts {_show(self.start)}"
        if self.ends_at is not None and now >= self.ends_at:
            return f"schedule ended {_show(self.until)}"
        return None


def _instant(value: date | datetime | None, zone: ZoneInfo, *, end: bool) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)
    day = value + timedelta(days=1) if end else value
    return datetime.combine(day, time(0), tzinfo=zone)


def _show(value: date | datetime | None) -> str:
    return value.isoformat() if value is not None else ""


@dataclass(frozen=True)
class ElementConditions:
    """Conditions on the page's elements, checked in the browser before a guide shows."""

    present: tuple[str, ...] = setting(
        (), parse=parse_browser_selector, schema=SELECTORS_SCHEMA, help="selectors that must each find an element"
    )
    absent: tuple[str, ...] = setting(
        (), parse=parse_browser_selector, schema=SELECTORS_SCHEMA, help="selectors that must find no element"
    )


def _parse_link(value: Any) -> str:
    text = str(value).strip()
    if not text.startswith("/") or text.startswith("//") or any(character.isspace() for character in text):
        raise ValueError("expected a path on the same site that starts with '/', such as '/po/new'")
    return text


@dataclass(frozen=True)
class ChecklistItem:
    """One task of a checklist, done when the user completes its workflow."""

    title: Text = setting(schema=TEXT_SCHEMA, help="the task as the user reads it")
    workflow: str = setting(parse=parse_id, schema=ID_SCHEMA, help="the id of the workflow whose completed run ticks the item")
    guide: str | None = setting(None, parse=parse_id, schema=ID_SCHEMA, help="id of a walkthrough the item starts")
    link: str | None = setting(None, parse=_parse_link, help="path the item opens, e.g. /po/new")


_DEFAULT_FREQUENCY: dict[str, str] = {
    "walkthrough": "once",
    "tip": "every_visit",
    "hotspot": "until_completed",
    "announcement": "once",
    "banner": "every_visit",
    "checklist": "until_completed",
}


@dataclass(frozen=True)
class Guide:
    """Guidance shown on matching pages to the users of its audience."""

    id: str = setting(parse=parse_id, schema=ID_SCHEMA, help="an id unique within the app, e.g. 'po-walkthrough'")
    kind: GuideKind = setting(help="one of walkthrough, tip, hotspot, announcement, banner or checklist")
    title: Text = setting(schema=TEXT_SCHEMA, help="the name shown in the help menu and in reports")
    body: Text | None = setting(None, schema=TEXT_SCHEMA, help="text of a tip, hotspot, announcement or banner")
    target: Target | None = setting(None, help="tip and hotspot: the element pointed at")
    placement: Placement = setting("auto", help="tip and hotspot: side of the target the text appears on")
    steps: tuple[Step, ...] = setting((), help="walkthrough: the steps in order")
    items: tuple[ChecklistItem, ...] = setting((), help="checklist: the tasks")
    position: Literal["top", "bottom"] | None = setting(None, help="banner: top (default) or bottom of the page")
    audience: Audience = setting(
        default_factory=Audience, binder=bind_audience, schema=AUDIENCE_SCHEMA, help="who sees it; default anyone"
    )
    pages: tuple[RequestPattern, ...] = setting((), help="pages it applies to; omitted means every page of the app")
    elements: ElementConditions = setting(
        default_factory=ElementConditions, help="elements that must be present or absent on the page"
    )
    trigger: Trigger = setting(default_factory=Trigger, help="when it starts: automatic (default), first_visit, help_menu or an element event")
    frequency: Frequency = setting(default_factory=Frequency, help="how often: once, until_completed, every_visit or {max_times: N}")
    schedule: Schedule | None = setting(None, help="period in which it is shown: from, until, timezone")
    priority: int = setting(0, minimum=-1000, maximum=1000, help="higher first when several guides apply")
    on_missing: OnMissing = setting("skip", help="when a step's target is missing: skip the step or end the guide")
    dismissible: bool = setting(True, help="whether the user can close it")
    help_menu: bool = setting(True, help="list it in the help menu of the pages it applies to")
    workflows: tuple[str, ...] = setting((), parse=parse_id, help="ids of the workflows it helps with, for reports on its effect")

    def __post_init__(self) -> None:
        if self.frequency.mode is None:
            object.__setattr__(self, "frequency", Frequency(_DEFAULT_FREQUENCY[self.kind]))  # type: ignore[arg-type]
        if self.kind == "banner" and self.position is None:
            object.__setattr__(self, "position", "top")
