"""The workflow and feature model of rule files: tracked request sequences and their outcome signatures."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Literal

from proxy.config.values import DURATION_SCHEMA, parse_duration
from proxy.ruleset.audience import AUDIENCE_SCHEMA, Audience, bind_audience
from proxy.ruleset.patterns import (
    METHODS_SCHEMA,
    PATH_PATTERN_SCHEMA,
    QUERY_SCHEMA,
    PathPattern,
    QueryCondition,
    RequestPattern,
    parse_path_pattern,
    parse_query_condition,
)
from proxy.ruleset.values import ID_SCHEMA, parse_field_name, parse_id, parse_method, parse_regex, parse_server_selector, parse_status
from proxy.yamlbind import setting

Outcome = Literal["success", "failure", "unknown"]

STATUS_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "array", "items": {"anyOf": [{"type": "integer", "minimum": 100, "maximum": 599}, {"type": "string", "pattern": "^[1-5]xx$"}]}},
        {"type": "integer", "minimum": 100, "maximum": 599},
        {"type": "string", "pattern": "^[1-5]xx$"},
    ],
    "description": "HTTP statuses such as 302 or [200, '3xx']",
}
REGEX_SCHEMA: dict[str, Any] = {"type": "string", "description": "a Python regular expression"}


@dataclass(frozen=True)
class BodyMarker:
    """Something the response body contains: a text, a regex match or an element (CSS selector)."""

    text: str | None = setting(None, help="text the body contains")
    regex: re.Pattern[str] | None = setting(None, parse=parse_regex, schema=REGEX_SCHEMA, help="regular expression found in the body")
    selector: str | None = setting(None, parse=parse_server_selector, help="CSS selector that finds an element in the body")

    def __post_init__(self) -> None:
        markers = [name for name in ("text", "regex", "selector") if getattr(self, name) is not None]
        if len(markers) != 1:
            raise ValueError(f"{len(markers)} markers given; expected exactly one of text, regex or selector")


@dataclass(frozen=True)
class Signature:
    """The marks of a response: status, redirect target and body marker. Every condition written must hold."""

    status: tuple[int | str, ...] = setting((), parse=parse_status, schema=STATUS_SCHEMA, help="statuses such as 302 or [200, '2xx']")
    redirect: PathPattern | None = setting(
        None, parse=parse_path_pattern, schema=PATH_PATTERN_SCHEMA, help="path pattern the Location header points to"
    )
    body: BodyMarker | None = setting(None, help="marker in the response body: text, regex or selector")


@dataclass(frozen=True)
class WorkflowStep:
    """One step of a workflow: a request pattern, the form fields it carries and how its outcome shows."""

    name: str = setting(parse=parse_id, schema=ID_SCHEMA, help="an id of the step within the workflow, e.g. 'submit'")
    path: PathPattern = setting(parse=parse_path_pattern, schema=PATH_PATTERN_SCHEMA, expected="a path pattern", help="the path pattern of the request")
    methods: tuple[str, ...] = setting((), parse=parse_method, schema=METHODS_SCHEMA, help="HTTP methods, e.g. POST; omitted means any")
    query: dict[str, QueryCondition] = setting(default_factory=dict, parse=parse_query_condition, schema=QUERY_SCHEMA, help="query parameter conditions")
    fields: tuple[str, ...] = setting((), parse=parse_field_name, help="form fields the request must carry (names only)")
    title: str | None = setting(None, help="name of the step in reports")
    success: Signature | None = setting(None, help="how a successful response looks")
    failure: Signature | None = setting(None, help="how a failed response looks, e.g. the form shown again with errors")
    allow_values: tuple[str, ...] = setting(
        (), parse=parse_field_name, help="form fields whose values may be stored; by default no value is stored"
    )

    def accepts_fields(self, names: Collection[str]) -> bool:
        """Return whether a submitted form with these field names carries every required field."""
        if not self.fields:
            return True
        return all(name in names for name in self.fields)


@dataclass(frozen=True)
class Exclusion:
    """A request that ends a visitor's run of the workflow as abandoned, such as a cancel button."""

    name: str = setting(parse=parse_id, schema=ID_SCHEMA, help="an id of the exclusion within the workflow, e.g. 'cancel'")
    path: PathPattern = setting(parse=parse_path_pattern, schema=PATH_PATTERN_SCHEMA, expected="a path pattern", help="the path pattern of the request")
    methods: tuple[str, ...] = setting((), parse=parse_method, schema=METHODS_SCHEMA, help="HTTP methods; omitted means any")
    query: dict[str, QueryCondition] = setting(default_factory=dict, parse=parse_query_condition, schema=QUERY_SCHEMA, help="query parameter conditions")


@dataclass(frozen=True)
class Workflow:
    """A business task tracked through the requests it is made of."""

    id: str = setting(parse=parse_id, schema=ID_SCHEMA, help="an id unique within the app, e.g. 'raise-po'")
    title: str = setting(help="the name of the task in reports, e.g. 'Raise a purchase order'")
    steps: tuple[WorkflowStep, ...] = setting(help="the requests that make up the task, in order")
    audience: Audience = setting(
        default_factory=Audience, binder=bind_audience, schema=AUDIENCE_SCHEMA, help="whose runs are tracked; default anyone"
    )
    window: float = setting(
        3600.0, parse=parse_duration, schema=DURATION_SCHEMA, help="time within which a run must finish, e.g. '30m'"
    )
    order: Literal["ordered", "strict"] = setting(
        "ordered", help="ordered: steps in order, other pages may come between; strict: no other page between steps"
    )
    exclusions: tuple[Exclusion, ...] = setting(
        (), help="requests that end a run as abandoned, e.g. a cancel URL, each with a name"
    )


@dataclass(frozen=True)
class Feature:
    """A function of the app whose use per role is counted."""

    id: str = setting(parse=parse_id, schema=ID_SCHEMA, help="an id unique within the app, e.g. 'export-csv'")
    title: str = setting(help="the name of the feature in reports")
    requests: tuple[RequestPattern, ...] = setting(help="the request patterns that count as a use")
    audience: Audience = setting(
        default_factory=Audience, binder=bind_audience, schema=AUDIENCE_SCHEMA, help="whose uses are counted; default anyone"
    )
