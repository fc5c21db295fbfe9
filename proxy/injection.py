"""Glue between the forwarder and the HTML rewriter: request preparation, the decision, metrics, fail-open."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from proxy.upstream import UpstreamResponse
from multidict import CIMultiDict

from proxy.config import App, Config
from proxy.forward import Exchange
from proxy.metrics import Metrics
from proxy.rewrite import (
    DocumentRewriter,
    RuntimeLocation,
    build_snippet,
    mark_etag,
    should_strip_range,
    strip_range,
    unmark_if_none_match,
    upstream_accept_encoding,
)
from proxy.rewrite.decide import NAVIGATION_DESTINATIONS, Decision, DecisionCache

logger = logging.getLogger(__name__)

_MARKED_ETAG = "marked_etag"
_TARGETS_KEPT = 256
"""Apps and public origins whose snippet and decisions are kept; past this many the memory starts over."""


class CountingRewriter(DocumentRewriter):
    """A DocumentRewriter that counts its outcome in the metrics when the body ends."""

    __slots__ = ("_metrics", "_app", "_injected")

    def __init__(
        self,
        decision: Decision,
        snippet: SnippetFactory,
        *,
        metrics: Metrics,
        app: str,
        accept_encoding: str | None,
        lookahead: int,
        request_id: str,
        injected: Any = None,
    ) -> None:
        """Build the rewriter; `injected` is the app's child of `metrics.injections`, looked up here when None."""
        super().__init__(decision, snippet, accept_encoding=accept_encoding, lookahead=lookahead, request_id=request_id)
        self._metrics = metrics
        self._app = app
        self._injected = injected if injected is not None else metrics.child(metrics.injections, app)

    def finish(self) -> bytes:
        tail = super().finish()
        outcome = self.outcome or "unknown"
        if outcome == "injected":
            self._injected.inc()
        else:
            self._metrics.child(self._metrics.injection_skips, self._app, outcome).inc()
        return tail


class SnippetFactory:
    """The snippet for one app and public origin, given the nonce a page's policy needs (or None)."""

    def __init__(self, origin: str, prefix: str, version: str, app: str, *, xhtml: bool) -> None:
        self._location = (origin, prefix, version, app, xhtml)
        self._plain = build_snippet(origin=origin, prefix=prefix, version=version, app=app, nonce=None, xhtml=xhtml)

    def __call__(self, nonce: str | None) -> bytes:
        if nonce is None:
            return self._plain
        origin, prefix, version, app, xhtml = self._location
        return build_snippet(origin=origin, prefix=prefix, version=version, app=app, nonce=nonce, xhtml=xhtml)


@dataclass(frozen=True, slots=True)
class _Target:
    """The decision cache and snippets of one app reached through one public origin."""

    decisions: DecisionCache
    html_snippet: SnippetFactory
    xhtml_snippet: SnippetFactory
    injected: Any
    """The app's child of Metrics.injections."""


class Injector:
    """Decides per response whether the runtime goes in, and builds the rewriter that puts it there."""

    def __init__(self, config: Config, metrics: Metrics, runtime_version: str) -> None:
        self._config = config
        self._metrics = metrics
        self.runtime_version = runtime_version
        self._targets: dict[tuple[str, str, str], _Target] = {}

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
        view = exchange.view
        target = self._targets.get((app.name, view.scheme, view.host))
        if target is None:
            target = self._new_target(app, view.scheme, view.host)
        decision = target.decisions.decide(exchange.request.method, exchange.upstream_headers, upstream.status, headers)
        if not decision.inject:
            self._metrics.child(self._metrics.injection_skips, app.name, decision.reason).inc()
            return None
        return CountingRewriter(
            decision,
            target.xhtml_snippet if decision.xhtml else target.html_snippet,
            metrics=self._metrics,
            app=app.name,
            accept_encoding=exchange.request.headers.get("Accept-Encoding"),
            lookahead=app.inject.lookahead,
            request_id=exchange.request_id,
            injected=target.injected,
        )

    def _new_target(self, app: App, scheme: str, host: str) -> _Target:
        if len(self._targets) >= _TARGETS_KEPT:
            self._targets.clear()
        origin = f"{scheme}://{host}"
        prefix, version = self._config.prefix, self.runtime_version
        target = _Target(
            DecisionCache(app.inject, RuntimeLocation(origin, prefix, version)),
            SnippetFactory(origin, prefix, version, app.name, xhtml=False),
            SnippetFactory(origin, prefix, version, app.name, xhtml=True),
            self._metrics.child(self._metrics.injections, app.name),
        )
        self._targets[(app.name, scheme, host)] = target
        return target

    def on_complete(self, exchange: Exchange, status: int) -> None:
        """Nothing to do once the response is sent; the rewriter counted its outcome."""


def _is_navigation(headers: CIMultiDict[str]) -> bool:
    destination = headers.get("Sec-Fetch-Dest")
    if destination is not None:
        return destination.strip().lower() in NAVIGATION_DESTINATIONS
    return "text/html" in headers.get("Accept", "")
