"""Glue between the forwarder and the HTML rewriter: request preparation, the decision, metrics, fail-open."""

from __future__ import annotations

import logging

from proxy.upstream import UpstreamResponse
from multidict import CIMultiDict

from proxy.config import Config
from proxy.forward import Exchange
from proxy.metrics import Metrics
from proxy.rewrite import (
    DocumentRewriter,
    RuntimeLocation,
    build_snippet,
    decide,
    mark_etag,
    should_strip_range,
    strip_range,
    unmark_if_none_match,
    upstream_accept_encoding,
)
from proxy.rewrite.decide import NAVIGATION_DESTINATIONS

logger = logging.getLogger(__name__)

_MARKED_ETAG = "marked_etag"
_LOCATIONS_KEPT = 256
"""Public origins whose runtime location is kept; past this many the cache starts over."""


class CountingRewriter:
    """A DocumentRewriter that counts its outcome in the metrics when the body ends."""

    def __init__(self, rewriter: DocumentRewriter, metrics: Metrics, app: str) -> None:
        self._rewriter = rewriter
        self._metrics = metrics
        self._app = app

    def headers(self, headers: CIMultiDict[str]) -> CIMultiDict[str]:
        return self._rewriter.headers(headers)

    def feed(self, chunk: bytes) -> bytes:
        return self._rewriter.feed(chunk)

    @property
    def passing_through(self) -> bool:
        return self._rewriter.passing_through

    def finish(self) -> bytes:
        tail = self._rewriter.finish()
        outcome = self._rewriter.outcome or "unknown"
        if outcome == "injected":
            self._metrics.child(self._metrics.injections, self._app).inc()
        else:
            self._metrics.child(self._metrics.injection_skips, self._app, outcome).inc()
        return tail


class Injector:
    """Decides per response whether the runtime goes in, and builds the rewriter that puts it there."""

    def __init__(self, config: Config, metrics: Metrics, runtime_version: str) -> None:
        self._config = config
        self._metrics = metrics
        self.runtime_version = runtime_version
        self._locations: dict[str, RuntimeLocation] = {}

    def prepare_request(self, exchange: Exchange, headers: CIMultiDict[str]) -> CIMultiDict[str]:
        """Adjust the headers sent upstream so that an HTML document can be injected.

        A navigation's Range is dropped (the client then gets the full injected 200), its
        Accept-Encoding is limited to codings the rewriter can decode, and an If-None-Match that
        names an injected body's ETag is translated back to the upstream's tag.
        """
        app = exchange.app
        if not app.inject.enabled:
            return headers
        request = exchange.request
        if should_strip_range(request.method, headers, app.inject):
            headers = strip_range(headers)
        if _is_navigation(headers):
            accept_encoding = headers.get("Accept-Encoding")
            if accept_encoding is not None:
                limited = upstream_accept_encoding(accept_encoding)
                if limited != accept_encoding:
                    headers["Accept-Encoding"] = limited
        if_none_match = headers.get("If-None-Match")
        if if_none_match is not None:
            value, changed = unmark_if_none_match(if_none_match)
            if changed:
                headers["If-None-Match"] = value
                exchange.notes[_MARKED_ETAG] = True
        return headers

    def on_response(self, exchange: Exchange, upstream: UpstreamResponse, headers: CIMultiDict[str]) -> CountingRewriter | None:
        """Return a rewriter for an injectable document, or None to pass the body through."""
        app = exchange.app
        if upstream.status == 304 and exchange.notes.get(_MARKED_ETAG) and "ETag" in headers:
            headers["ETag"] = mark_etag(headers["ETag"])
        if not app.inject.enabled:
            return None
        try:
            return self._rewriter(exchange, upstream, headers)
        except Exception:
            # A bug here must not cost the page: the body passes through untouched.
            self._metrics.failures.labels(app.name, "inject_decide").inc()
            logger.exception("app %s: injection decision failed for %s (request %s); page sent unchanged", app.name, exchange.request.path, exchange.request_id)
            return None

    def _rewriter(self, exchange: Exchange, upstream: UpstreamResponse, headers: CIMultiDict[str]) -> CountingRewriter | None:
        app = exchange.app
        origin = f"{exchange.view.scheme}://{exchange.view.host}"
        location = self._locations.get(origin)
        if location is None:
            if len(self._locations) >= _LOCATIONS_KEPT:
                self._locations.clear()
            location = self._locations[origin] = RuntimeLocation(origin, self._config.prefix, self.runtime_version)
        decision = decide(exchange.request.method, exchange.upstream_headers, upstream.status, headers, app.inject, runtime=location)
        if not decision.inject:
            self._metrics.child(self._metrics.injection_skips, app.name, decision.reason).inc()
            return None

        def snippet(nonce: str | None) -> bytes:
            return build_snippet(origin=origin, prefix=self._config.prefix, version=self.runtime_version, app=app.name, nonce=nonce, xhtml=decision.xhtml)

        rewriter = DocumentRewriter(
            decision,
            snippet,
            accept_encoding=exchange.request.headers.get("Accept-Encoding"),
            lookahead=app.inject.lookahead,
            request_id=exchange.request_id,
        )
        return CountingRewriter(rewriter, self._metrics, app.name)

    def on_complete(self, exchange: Exchange, status: int) -> None:
        """Nothing to do once the response is sent; the rewriter counted its outcome."""


def _is_navigation(headers: CIMultiDict[str]) -> bool:
    destination = headers.get("Sec-Fetch-Dest")
    if destination is not None:
        return destination.strip().lower() in NAVIGATION_DESTINATIONS
    return "text/html" in headers.get("Accept", "")
