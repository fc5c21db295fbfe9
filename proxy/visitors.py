"""Identity on the request path: resolve each app's visitor once per exchange, set the visitor cookie, learn roles from pages."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from proxy.upstream import UpstreamResponse
from aiohttp import web
from multidict import CIMultiDict

from proxy.capture.bodycopy import BodyCopy
from proxy.config import Config
from proxy.forward import Exchange
from proxy.identity import Identity, IdentityResolver, build_resolvers
from proxy.metrics import Metrics
from proxy.rewrite.charset import header_charset
from proxy.rewrite.decide import media_type
from proxy.tasks import BackgroundTasks

logger = logging.getLogger(__name__)

_IDENTITY = "identity"
_PAGE_COPY = "page_copy"
_HTML = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True)
class PageCopy:
    """An HTML response being copied for page learning, and the app session it belongs to."""

    session: str
    copy: BodyCopy
    charset: str | None


class Visitors:
    """The identity resolvers of every app, and the request-path hook that uses them.

    Identity is resolved lazily: only requests that something needs it for (the runtime's own
    endpoints, captured workflow steps and features) pay for it, and at most once per exchange.
    """

    def __init__(self, config: Config, metrics: Metrics, tasks: BackgroundTasks) -> None:
        self._config = config
        self._metrics = metrics
        self._tasks = tasks
        self.resolvers: dict[str, IdentityResolver] = build_resolvers(config)
        self.cookie_name = config.visitor.cookie_name

    def resolve(self, request: web.Request, app: str, secure: bool) -> Identity:
        """Resolve the identity of a request to `app` (headers already stripped of untrusted identity).

        Uses the resolver's cache, so the Cookie header is parsed only when the cache has no entry.
        """
        return self.resolvers[app].resolve_cached(request.remote, request.headers, lambda: request.cookies, secure)

    def for_exchange(self, exchange: Exchange) -> Identity:
        """Return the exchange's identity, resolving it on first use."""
        identity = exchange.notes.get(_IDENTITY)
        if not isinstance(identity, Identity):
            identity = self.resolve(exchange.request, exchange.app.name, exchange.view.scheme == "https")
            exchange.notes[_IDENTITY] = identity
        return identity

    # ForwardHook

    def prepare_request(self, exchange: Exchange, headers: CIMultiDict[str]) -> CIMultiDict[str]:
        """Keep Guidegate's visitor cookie away from the upstream app, whichever Cookie header carries it."""
        cookies = headers.getall("Cookie", [])
        if any(self.cookie_name in cookie for cookie in cookies):
            kept = _without_cookie(cookies, self.cookie_name)
            headers.popall("Cookie")
            if kept:
                headers["Cookie"] = kept
        return headers

    def on_response(self, exchange: Exchange, upstream: UpstreamResponse, headers: CIMultiDict[str]) -> None:
        """Add a new visitor cookie when one was minted, and copy HTML for page learning when configured."""
        identity = exchange.notes.get(_IDENTITY)
        if isinstance(identity, Identity) and identity.set_cookie:
            headers.add("Set-Cookie", identity.set_cookie)
        resolver = self.resolvers[exchange.app.name]
        if resolver.page_max_bytes and upstream.status == 200:
            if media_type(headers.get("Content-Type")) in _HTML:
                session = resolver.page_session(exchange.request.cookies)
                if session is not None:
                    copy = BodyCopy(headers.get("Content-Encoding"), resolver.page_max_bytes)
                    exchange.response_observers.append(copy)
                    exchange.notes[_PAGE_COPY] = PageCopy(session, copy, header_charset(headers.get("Content-Type")))
        return None

    def on_complete(self, exchange: Exchange, status: int) -> None:
        """Hand a copied page to the resolver, off the request path."""
        noted = exchange.notes.get(_PAGE_COPY)
        if not isinstance(noted, PageCopy) or status != 200:
            return
        session, copy, charset = noted.session, noted.copy, noted.charset
        resolver = self.resolvers[exchange.app.name]
        self._tasks.spawn(
            f"learn-roles-{exchange.request_id}", resolver.learn_from_page_async(session, copy.data(), charset)
        )


def _without_cookie(values: list[str], name: str) -> str:
    pairs = []
    for value in values:
        for pair in value.split(";"):
            key = pair.split("=", 1)[0].strip()
            if key and key != name:
                pairs.append(pair.strip())
    return "; ".join(pairs)


def public_roles(identity: Identity) -> Mapping[str, object]:
    """Return what the browser may know of an identity: its roles, and the user only when exposed."""
    body: dict[str, object] = {"roles": sorted(identity.roles)}
    user = identity.public_user()
    if user is not None:
        body["user"] = user
    return body
