"""The runtime endpoints' view of a request, and the callables through which the proxy plugs in."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from proxy.errors import GuidegateError
from proxy.events.model import Event


@dataclass(frozen=True)
class RequestContext:
    """The sender of a runtime request, and the app it concerns.

    `app` names the app whose rules and events the request concerns. `visitor` is the pseudonymous
    visitor id (a keyed hash, never a user name), `roles` are the user's roles and `session` is an
    optional session id stored on events. `set_cookie`, when set, is a Set-Cookie header value that
    every response to this request carries (a new visitor cookie). A caller that needs more (user
    attributes, completed workflows) may subclass this dataclass.
    """

    app: str
    visitor: str
    roles: frozenset[str] = frozenset()
    session: str | None = None
    set_cookie: str | None = None


class RuntimeRequestError(GuidegateError):
    """A runtime request that cannot be served: `status` is the HTTP status, `message` the reason, `headers` extra response headers."""

    def __init__(self, status: int, message: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers: Mapping[str, str] = headers or {}


Resolve = Callable[[web.Request], RequestContext]
"""Resolve a request under the prefix to its context.

The runtime sends the app name of its script tag (`data-guidegate-app`) as the `app` query
parameter of every request. The callable must check it against the apps the request's Host
serves, and raise RuntimeRequestError (403 or 404) when the request belongs to no app or has no
visitor. It runs on the event loop, so it must not block.
"""

PageConfig = Callable[[RequestContext, str, str], Mapping[str, Any]]
"""Build the page config of one page: (context, url, frame) -> JSON object.

`url` is the page's path and query string as the browser shows them (`location.pathname +
location.search`, without the runtime's own `guidegate-*` parameters). Removing an app's
path_prefix is the callable's job. `frame` is the `window.name` of the frame that sends the
request, '' for a window without a name. The result has the shape that proxy.ruleset.page_config.page_config
returns: at least `guides`, a list of guide objects that each carry an `id`.
"""

PreviewGuide = Callable[[RequestContext, str], Mapping[str, Any] | None]
"""Return one guide of the context's app as a page-config guide object, whatever its audience,
pages and schedule, or None when the app has no guide with that id. Used for admins' previews."""

Submit = Callable[[Event], bool]
"""Queue an event for the event store without blocking; False means it was dropped (queue full)."""

IsAdmin = Callable[[web.Request], bool]
"""Tell whether a request comes from an admin, who may preview guides and pick selectors."""
