"""The runtime's HTTP endpoints under the prefix: assets, page config, visitor state and browser events."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, cast

from aiohttp import web

from proxy.identity.ratelimit import RateLimitedLog
from proxy.runtime.assets import RuntimeAssets, default_assets
from proxy.runtime.browser_events import MAX_BODY_BYTES, MAX_EVENTS, parse_batch
from proxy.runtime.context import IsAdmin, PageConfig, PreviewGuide, RequestContext, Resolve, RuntimeRequestError, Submit
from proxy.runtime.payload import (
    check_keys,
    check_same_origin,
    choice_field,
    int_field,
    read_json,
    require_object,
    text_field,
)
from proxy.runtime.ratelimit import TokenBuckets, retry_after_seconds
from proxy.runtime.state import MAX_SEQ, MAX_STEP, STATUSES, StateChange, StateStore, Status

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MAX_URL_LENGTH = 2048
MAX_STATE_BODY_BYTES = 2048
STATE_FIELDS = ("guide", "seq", "step", "status", "dismissed", "shown")
NO_STORE = "private, no-store"

_GUIDE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class RouteTable(Protocol):
    """A table of routes under the prefix, such as proxy.reserved.ReservedRoutes."""

    def add(self, name: str, handler: Handler) -> None: ...

    def add_tree(self, name: str, handler: Handler) -> None: ...


class RuntimeEndpoints:
    """aiohttp handlers for everything the browser runtime requests under `prefix`.

    | route | method | what |
    | --- | --- | --- |
    | `runtime/{version}/guidegate.js`, `.css` | GET, HEAD | the runtime files, cached for a year |
    | `config?app=&url=&frame=[&preview=]` | GET | the page config for this user and page, with guide state |
    | `state?app=[&guide=...]` | GET | the visitor's guide state |
    | `state?app=` | POST | change one guide's state |
    | `events?app=` | POST | a batch of engagement events |

    The callables are described in proxy.runtime.context. `preview_guide` (optional) serves
    `?guidegate-preview=ID` to admins. `event_capacity` and `event_rate` size each visitor's token
    bucket of events: a burst of `event_capacity`, then `event_rate` events per second.
    """

    def __init__(
        self,
        prefix: str,
        *,
        resolve: Resolve,
        page_config: PageConfig,
        submit: Submit,
        state: StateStore,
        is_admin: IsAdmin,
        preview_guide: PreviewGuide | None = None,
        assets: RuntimeAssets | None = None,
        check_client_time: bool = False,
        event_capacity: float = 120,
        event_rate: float = 1.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if event_capacity < MAX_EVENTS:
            raise ValueError(f"event_capacity {event_capacity} is below the batch size {MAX_EVENTS}; expected at least {MAX_EVENTS}")
        self.prefix = prefix
        self.assets = assets if assets is not None else default_assets()
        self._resolve = resolve
        self._page_config = page_config
        self._preview_guide = preview_guide
        self._submit = submit
        self._state = state
        self._is_admin = is_admin
        self._check_client_time = check_client_time
        self._clock = clock
        self._buckets = TokenBuckets(capacity=event_capacity, rate=event_rate, clock=monotonic)
        self._log = RateLimitedLog(logger)
        self.counts: dict[str, int] = {"events_accepted": 0, "events_dropped": 0, "events_rejected": 0, "rate_limited": 0}

    @property
    def version(self) -> str:
        """The runtime version in the asset URLs, such as `0.1.0-3f2a9c1d7e`."""
        return self.assets.version

    def register(self, routes: RouteTable) -> None:
        """Register every endpoint under the prefix."""
        routes.add("config", self._guarded(self.config))
        routes.add("state", self._guarded(self.state))
        routes.add("events", self._guarded(self.events))
        routes.add_tree("runtime", self.asset)

    async def asset(self, request: web.Request) -> web.StreamResponse:
        """Serve `runtime/{version}/{file}`."""
        return self.assets.response(request, self.prefix)

    def _guarded(self, handler: Callable[[web.Request], Awaitable[web.Response]]) -> Handler:
        """Wrap a JSON handler: a RuntimeRequestError becomes `{"error": message}` with its status."""

        async def guarded(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except RuntimeRequestError as error:
                logger.debug("%s %s rejected with %d: %s", request.method, request.path, error.status, error.message)
                headers = {"Cache-Control": NO_STORE, **error.headers}
                return web.json_response({"error": error.message}, status=error.status, headers=headers)

        return guarded

    def _context(self, request: web.Request) -> RequestContext:
        return self._resolve(request)

    def _respond(self, context: RequestContext, body: Mapping[str, Any], status: int = 200) -> web.Response:
        response = web.json_response(body, status=status, headers={"Cache-Control": NO_STORE})
        if context.set_cookie is not None:
            response.headers.add("Set-Cookie", context.set_cookie)
        return response

    async def config(self, request: web.Request) -> web.Response:
        """Return the page config of `url` for this user, the visitor's state of its guides and the admin flags."""
        _allow(request, "GET", "HEAD")
        url = _query_url(request)
        frame = request.query.get("frame", "")
        if len(frame) > 200 or _CONTROL.search(frame):
            raise RuntimeRequestError(400, "frame: expected a window name of at most 200 printable characters")
        context = self._context(request)
        admin = self._is_admin(request)

        try:
            config = dict(self._page_config(context, url, frame))
            preview = self._preview(request, context, admin)
        except RuntimeRequestError:
            raise
        except Exception:  # noqa: BLE001 - a broken rule set must not break the page; the runtime shows nothing
            self._log.warning(("config", context.app), "app %s: page config for %s failed", context.app, url, exc_info=True)
            raise RuntimeRequestError(500, "the page config could not be built; see the Guidegate log") from None

        guides = [str(guide.get("id")) for guide in config.get("guides", ()) if isinstance(guide, Mapping)]
        states = await self._state.load(context.app, context.visitor, guides)
        config["state"] = {guide: state.to_json() for guide, state in states.items()}
        config["admin"] = admin
        config["preview"] = preview
        config["check_client_time"] = self._check_client_time
        config["runtime"] = self.version
        return self._respond(context, config)

    def _preview(self, request: web.Request, context: RequestContext, admin: bool) -> Mapping[str, Any] | None:
        requested = request.query.get("preview")
        if requested is None or self._preview_guide is None:
            return None
        if not admin:
            logger.info("app %s: preview of guide %r requested without admin rights; ignored", context.app, requested[:64])
            return None
        if not _GUIDE_ID.match(requested):
            raise RuntimeRequestError(400, "preview: invalid guide id; expected letters, digits, '_', '.' or '-'")
        guide = self._preview_guide(context, requested)
        if guide is None:
            raise RuntimeRequestError(404, f"preview: app {context.app} has no guide '{requested}'")
        return guide

    async def state(self, request: web.Request) -> web.Response:
        """GET the visitor's guide state, or POST a change of one guide's state."""
        _allow(request, "GET", "HEAD", "POST")
        if request.method == "POST":
            check_same_origin(request)
            context = self._context(request)
            guide, change = parse_state_change(await read_json(request, MAX_STATE_BODY_BYTES))
            stored = await self._state.apply(context.app, context.visitor, guide, change)
            return self._respond(context, {"guide": guide, "state": stored.to_json()})

        context = self._context(request)
        requested = request.query.getall("guide", [])
        for guide in requested:
            if not _GUIDE_ID.match(guide):
                raise RuntimeRequestError(400, "guide: invalid guide id; expected letters, digits, '_', '.' or '-'")
        states = await self._state.load(context.app, context.visitor, requested or None)
        return self._respond(context, {"state": {guide: state.to_json() for guide, state in states.items()}})

    async def events(self, request: web.Request) -> web.Response:
        """Accept a batch of engagement events and queue them for the event store."""
        _allow(request, "POST")
        check_same_origin(request)
        context = self._context(request)
        try:
            batch = parse_batch(await read_json(request, MAX_BODY_BYTES), context, self._clock())
        except RuntimeRequestError:
            self.counts["events_rejected"] += 1
            raise

        wait = self._buckets.take(context.visitor, len(batch))
        if wait > 0:
            self.counts["rate_limited"] += 1
            retry = retry_after_seconds(wait)
            self._log.warning(("rate", context.app), "app %s: visitor %s sends too many events; batch rejected", context.app, context.visitor)
            raise RuntimeRequestError(429, f"too many events from this visitor; retry after {retry} s", headers={"Retry-After": str(retry)})

        dropped = sum(1 for event in batch if not self._submit(event))
        self.counts["events_accepted"] += len(batch) - dropped
        self.counts["events_dropped"] += dropped
        return self._respond(context, {"accepted": len(batch) - dropped, "dropped": dropped}, status=202)


def parse_state_change(body: Any) -> tuple[str, StateChange]:
    """Validate a posted state change `{"guide", "seq", "step"?, "status"?, "dismissed"?, "shown"?}`."""
    value = require_object(body, "body")
    check_keys(value, STATE_FIELDS, "body")
    guide = text_field(value, "guide", "body", max_length=64, required=True)
    if guide is None or not _GUIDE_ID.match(guide):
        raise RuntimeRequestError(400, "body.guide: invalid guide id; expected letters, digits, '_', '.' or '-'")
    seq = int_field(value, "seq", "body", minimum=0, maximum=MAX_SEQ, required=True) or 0
    step = int_field(value, "step", "body", minimum=0, maximum=MAX_STEP)
    status = choice_field(value, "status", "body", STATUSES)
    dismissed = value.get("dismissed")
    shown = value.get("shown", False)
    for key, flag in (("dismissed", dismissed), ("shown", shown)):
        if flag is not None and not isinstance(flag, bool):
            raise RuntimeRequestError(400, f"body.{key}: expected true or false")
    return guide, StateChange(seq=seq, step=step, status=cast(Status | None, status), dismissed=dismissed, shown=bool(shown))


def _allow(request: web.Request, *methods: str) -> None:
    if request.method not in methods:
        raise RuntimeRequestError(
            405, f"method {request.method} is not allowed here; expected {' or '.join(methods)}", headers={"Allow": ", ".join(methods)}
        )


def _query_url(request: web.Request) -> str:
    url = request.query.get("url")
    if url is None:
        raise RuntimeRequestError(400, "url: missing; expected the page's path and query, such as /po/new?id=3")
    if not url.startswith("/") or url.startswith("//") or len(url) > MAX_URL_LENGTH or _CONTROL.search(url):
        raise RuntimeRequestError(400, f"url: expected a path that starts with '/', at most {MAX_URL_LENGTH} characters")
    return url
