"""Turn requests that are workflow steps, exclusions or feature uses into events, with the outcome the upstream gave."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote, urljoin, urlsplit

from proxy.upstream import UpstreamResponse
from multidict import CIMultiDict

from proxy.capture.bodycopy import BodyCopy
from proxy.capture.forms import FormReader, FormSummary, form_reader
from proxy.capture.matches import MatchCache, Shape
from proxy.events import Event
from proxy.events.model import Entry, Record, checked_visit
from proxy.events.queries import record
from proxy.forward import Exchange
from proxy.identity import Identity
from proxy.metrics import Metrics
from proxy.rewrite.charset import detect_encoding
from proxy.rewrite.decide import media_type
from proxy.ruleset import AppRules, RequestMatch, StepMatch
from proxy.ruleset.outcome import classify_response, needs_body
from proxy.ruleset.watcher import RuleWatcher
from proxy.tasks import BackgroundTasks

logger = logging.getLogger(__name__)

BODY_MARKER_BYTES = 256 * 1024
"""Decoded bytes of an HTML response kept for body markers; a marker further down is not seen."""

_STATE = "capture"

_NO_BODY = FormSummary()
"""The summary of a request whose body is not read; shared, so never modified."""

MAX_TEMPLATES = 4096
"""Records kept as templates for later events with the same fields; a full set is emptied and fills again."""

_TemplateKey = tuple[str, str, str, "str | None", str, frozenset[str]]
"""(app, kind, name, step, outcome, roles) of an event without detail."""


@dataclass(slots=True)
class CaptureState:
    """State of one captured exchange: what it matched, and what its request and response revealed."""

    match: RequestMatch
    identity: Identity
    case_sensitive: bool = True
    form: FormReader | None = None
    body: BodyCopy | None = None
    location: str | None = None
    content_type: str | None = None
    started: float = field(default_factory=time.time)


class Capture:
    """The forward hook that records workflow steps, exclusions and feature uses.

    The rule set is read once per request; identity is resolved only for requests that match a
    rule. Events are submitted to the writer's bounded queue, which drops rather than blocks when
    full. A successful last step of a workflow is also passed to `completed` as (app, visitor,
    workflow), which ticks checklist items. Exchanges that end are recorded together at the event
    loop's next turn rather than one by one as each response ends. Classifying a body marker runs in
    a worker thread after the response is sent. `drain` records what is waiting and waits for those
    classifications, so that shutdown submits their events before the writer closes.
    """

    def __init__(
        self,
        rules: RuleWatcher,
        identify: Callable[[Exchange], Identity],
        submit: Callable[[Entry], bool],
        metrics: Metrics,
        tasks: BackgroundTasks,
        completed: Callable[[str, str, str], None] = lambda app, visitor, workflow: None,
    ) -> None:
        self._rules = rules
        self._identify = identify
        self._submit = submit
        self._completed = completed
        self._metrics = metrics
        self._tasks = tasks
        self._classifying: set[asyncio.Task[None]] = set()
        self._matches: dict[str, MatchCache] = {}
        self._templates: dict[_TemplateKey, Record] = {}
        self._ended: list[tuple[Exchange, CaptureState, int, float]] = []
        """Captured exchanges that ended since the last call of `_record_ended`: (exchange, state, status, end time)."""

    async def drain(self, timeout: float) -> bool:
        """Record the exchanges that ended, then wait for the body-marker classifications in progress to
        submit their events. Return False when `timeout` passed first."""
        self._record_ended()
        if not self._classifying:
            return True
        _, pending = await asyncio.wait(set(self._classifying), timeout=timeout)
        if pending:
            logger.warning("%d workflow step classifications still running after %gs; their events are lost", len(pending), timeout)
        return not pending

    def prepare_request(self, exchange: Exchange, headers: CIMultiDict[str]) -> CIMultiDict[str]:
        try:
            self._match(exchange)
        except Exception:
            self._metrics.failures.labels(exchange.app.name, "capture_match").inc()
            logger.exception("app %s: capture failed to match %s %s (request %s)", exchange.app.name, exchange.request.method, exchange.request.path, exchange.request_id)
        return headers

    def _match(self, exchange: Exchange) -> None:
        rules = self._rules.ruleset.app(exchange.app.name)
        if rules is None:
            return
        request = exchange.request
        path = app_path(request.path, exchange.route.public_prefix)
        cache = self._match_cache(exchange.app.name, rules)
        # The raw query: two different queries can decode to the same text ('a=%26' and 'a=&').
        shape: Shape = (path, request.method, request.rel_url.raw_query_string)
        candidates = cache.candidates(shape)
        if candidates is None:
            # request.query parses lazily, so requests whose path no rule names never parse theirs.
            candidates = rules.match_request(path, method=request.method, query=request.query, roles=None)
            if not candidates:
                return
            cache.remember(shape, candidates)
        identity = self._identify(exchange)
        match = cache.for_audience(shape, candidates, identity.roles)
        if not match:
            return
        state = CaptureState(match, identity, rules.case_sensitive)
        if request.body_exists:
            allow_values = frozenset(name for step in match.steps for name in step.step.allow_values)
            if match.steps or allow_values:
                state.form = form_reader(request.headers.get("Content-Type"), allow_values)
                exchange.request_observers.append(state.form)
        exchange.notes[_STATE] = state

    def _match_cache(self, app: str, rules: AppRules) -> MatchCache:
        """Return the match cache of `app`, emptied when its rules were reloaded since."""
        cache = self._matches.get(app)
        if cache is None or cache.rules is not rules:
            cache = self._matches[app] = MatchCache(rules)
        return cache

    def on_response(self, exchange: Exchange, upstream: UpstreamResponse, headers: CIMultiDict[str]) -> None:
        state = exchange.notes.get(_STATE)
        if not isinstance(state, CaptureState):
            return None
        state.location = redirect_target(headers.get("Location"), exchange)
        for step in state.match.steps:
            if needs_body(step.step):
                content_type = upstream.headers.get("Content-Type")
                if media_type(content_type) in ("text/html", "application/xhtml+xml"):
                    state.body = BodyCopy(upstream.headers.get("Content-Encoding"), BODY_MARKER_BYTES)
                    state.content_type = content_type
                    exchange.response_observers.append(state.body)
                break
        return None

    def on_complete(self, exchange: Exchange, status: int) -> None:
        state = exchange.notes.get(_STATE)
        if not isinstance(state, CaptureState):
            return
        # Under bench/capture.py's full load about 20 captured exchanges end per turn of the event loop.
        # Recorded together, they cost the event loop about 16 instead of 22 µs each (separate runs of
        # bench/floors.py), probably because the same code then runs while still in the CPU's caches.
        if not self._ended:
            try:
                asyncio.get_running_loop().call_soon(self._record_ended)
            except RuntimeError:  # no event loop runs this call: record at once
                self._record_safely(exchange, state, status, time.perf_counter())
                return
        self._ended.append((exchange, state, status, time.perf_counter()))

    def _record_ended(self) -> None:
        """Record every exchange that ended since the last call."""
        ended, self._ended = self._ended, []
        for exchange, state, status, finished in ended:
            self._record_safely(exchange, state, status, finished)

    def _record_safely(self, exchange: Exchange, state: CaptureState, status: int, finished: float) -> None:
        try:
            self._record(exchange, state, status, finished)
        except Exception:
            self._metrics.failures.labels(exchange.app.name, "capture_record").inc()
            logger.exception("app %s: capture failed to record %s %s (request %s)", exchange.app.name, exchange.request.method, exchange.request.path, exchange.request_id)

    def _record(self, exchange: Exchange, state: CaptureState, status: int, finished: float) -> None:
        """Submit the events of an exchange that ended at `finished` (time.perf_counter) with `status`."""
        form = state.form.finish() if state.form is not None else _NO_BODY
        upstream_status = exchange.upstream_status or None
        duration = (finished - exchange.upstream_started) * 1000 if exchange.upstream_started else None
        base = _EventBase(exchange.app.name, state.identity, state.started, upstream_status, duration, self._templates)

        for feature in state.match.features:
            outcome = "success" if upstream_status is not None and upstream_status < 400 else "failure"
            self._emit(base.record("feature", feature.feature.id, None, outcome))
        for abandon in state.match.abandons:
            self._emit(base.record("workflow_step", abandon.workflow.id, abandon.exclusion.name, "abandon"))

        if upstream_status is None and not exchange.bytes_in:
            # The upstream failed before the body was read, so the required fields cannot be checked.
            steps = list(state.match.steps)
        else:
            steps = [step for step in state.match.steps if step.step.accepts_fields(form.names)]
        if not steps:
            return
        if upstream_status is None:
            for step in steps:
                self._emit(base.record("workflow_step", step.workflow.id, step.step.name, "error", _detail(step, form, status)))
            return
        if state.body is not None:
            body = state.body.data()
            task = self._tasks.spawn(
                f"classify-{exchange.request_id}",
                self._classify_later(base, steps, form, upstream_status, state, body, exchange.request_id),
            )
            self._classifying.add(task)
            task.add_done_callback(self._classifying.discard)
            return
        for step in steps:
            outcome = classify_response(step.step, upstream_status, state.location, None, case_sensitive=state.case_sensitive)
            self._emit_step(base, step, outcome, _detail(step, form, None))

    async def _classify_later(
        self,
        base: "_EventBase",
        steps: list[StepMatch],
        form: FormSummary,
        status: int,
        state: CaptureState,
        body: bytes,
        request_id: str,
    ) -> None:
        try:
            text = await asyncio.to_thread(_decode, body, state.content_type)
            for step in steps:
                outcome = await asyncio.to_thread(
                    classify_response, step.step, status, state.location, text, case_sensitive=state.case_sensitive
                )
                self._emit_step(base, step, outcome, _detail(step, form, None))
        except Exception:
            self._metrics.failures.labels(base.app, "capture_classify").inc()
            logger.exception("app %s: capture failed to classify a response (request %s)", base.app, request_id)

    def _emit_step(self, base: "_EventBase", step: StepMatch, outcome: str, detail: dict[str, object] | None) -> None:
        """Submit the event of a workflow step, and report a successful last step as a completion."""
        if outcome == "success" and step.index == len(step.workflow.steps) - 1:
            self._completed(base.app, base.visitor, step.workflow.id)
        self._emit(base.record("workflow_step", step.workflow.id, step.step.name, outcome, detail))

    def _emit(self, row: Record) -> None:
        if not self._submit(row):
            _, app, _, _, _, kind, name, *_ = row
            logger.debug("app %s: event %s %s dropped because the queue is full", app, kind, name)


class _EventBase:
    """The fields that every event of one exchange shares, and the Records built from them."""

    # A plain class with slots: one is built per captured request, and a frozen dataclass is slower to build.
    __slots__ = ("app", "visitor", "roles", "time", "status", "duration", "templates")

    def __init__(
        self,
        app: str,
        identity: Identity,
        time: float,
        status: int | None,
        duration: float | None,
        templates: dict[_TemplateKey, Record],
    ) -> None:
        self.app = app
        # Reused Records skip the Event constructor, so the values that vary per exchange are checked here.
        self.time, self.visitor, self.status, self.duration = checked_visit(
            time, identity.visitor_id, status, round(duration, 3) if duration is not None else None
        )
        # Event sorts the roles itself, and remembers the result for the same frozenset.
        self.roles = identity.roles
        self.templates = templates

    def record(self, kind: str, name: str, step: str | None, outcome: str, detail: dict[str, object] | None = None) -> Record:
        """Return the stored columns of this exchange's event with the given kind, name, step, outcome and detail.

        Every Record is that of an Event built with these values, so the Event's checks apply.
        """
        if detail is not None:
            return record(self._new(kind, name, step, outcome, detail))
        # Most events repeat one of a few combinations of these fields, so an earlier Record is reused
        # with this exchange's time, visitor, status and duration (checked in __init__).
        key = (self.app, kind, name, step, outcome, self.roles)
        template = self.templates.get(key)
        if template is None:
            template = record(self._new(kind, name, step, outcome, None))
            if len(self.templates) >= MAX_TEMPLATES:
                self.templates.clear()
            self.templates[key] = template
            return template
        _, same_app, _, session, roles, same_kind, same_name, same_step, same_outcome, _, _, detail_json = template
        return (
            self.time, same_app, self.visitor, session, roles, same_kind, same_name, same_step, same_outcome,
            self.status, self.duration, detail_json,
        )

    def _new(self, kind: str, name: str, step: str | None, outcome: str, detail: dict[str, object] | None) -> Event:
        return Event(
            time=self.time,
            app=self.app,
            visitor=self.visitor,
            kind=kind,
            roles=self.roles,
            name=name,
            step=step,
            outcome=outcome,
            status=self.status,
            duration=self.duration,
            detail=detail,
        )


def _detail(step: StepMatch, form: FormSummary, proxy_status: int | None) -> dict[str, object] | None:
    """Field names of the submission and the allowlisted values; never any other value."""
    if not form.names and not form.values and not step.params and proxy_status is None:
        return None
    detail: dict[str, object] = {}
    if form.names:
        detail["fields"] = form.names[:64]
    values = {name: form.values[name] for name in step.step.allow_values if name in form.values}
    if values:
        detail["values"] = values
    if step.params:
        detail["params"] = {key: str(value) for key, value in step.params.items()}
    if proxy_status is not None:
        detail["proxy_status"] = proxy_status
    return detail or None


def _decode(body: bytes, content_type: str | None) -> str:
    """Decode an HTML copy as a browser would; an encoding Python lacks falls back to windows-1252."""
    name = detect_encoding(body, content_type).name
    try:
        return body.decode(name, "replace")
    except LookupError:
        return body.decode("windows-1252", "replace")


def redirect_target(location: str | None, exchange: Exchange) -> str | None:
    """Return a Location header as a path of the app, as rule files write redirect patterns.

    `location` is the header as the client receives it, already rewritten from the upstream's
    origin and path to the public ones. A relative reference is resolved against the request's
    URL; a Location on another origin is returned unchanged.
    """
    if not location:
        return location
    origin = f"{exchange.view.scheme}://{exchange.view.host}"
    target = urlsplit(urljoin(origin + exchange.request.raw_path, location))
    if f"{target.scheme}://{target.netloc}".lower() != origin.lower():
        return location
    return app_path(unquote(target.path) or "/", exchange.route.public_prefix)


def app_path(path: str, public_prefix: str) -> str:
    """Return a request path as rule files write it: relative to where the app is mounted, starting with '/'."""
    if public_prefix == "/":
        return path
    if path.startswith(public_prefix):
        return "/" + path[len(public_prefix) :]
    return "/"
