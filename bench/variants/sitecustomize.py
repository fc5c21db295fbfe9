"""Cost variants of Guidegate for `bench/floors.py`: each replaces one part of a benchmark process.

Python imports this module at start-up when its folder is on PYTHONPATH, which only
bench/floors.py arranges, and only for the Guidegate processes it starts. The variable
GUIDEGATE_BENCH_VARIANT names the variant. Nothing in the product imports this module.

Each variant keeps a part's work down to what it cannot do without, so that its cost is the
floor of what any implementation of that part adds:

- product: nothing is replaced.
- inject-control: injection is off for every app (both sides of the comparison do the same).
- inject-decide-only: the injecting app decides, with its cache, then passes the body through.
- inject-minimal: the injecting app decides, then inserts the snippet before the first `</head>`
  of the first chunk, drops Content-Length and writes the pieces without copying the rest.
- capture-control: capture does nothing (both paths of the comparison do the same).
- capture-identify: capture matches the request and resolves the visitor as shipped, then keeps
  only a tuple for a step: no event row is built and nothing is stored.
- capture-no-store: capture builds and queues every row, and the SQLite write does nothing.

An unknown name stops the process at start-up, so a mistyped variant is never measured as the product.
"""

from __future__ import annotations

import collections
import os
from typing import Any

VARIANT_VARIABLE = "GUIDEGATE_BENCH_VARIANT"
VARIANTS = (
    "product",
    "inject-control",
    "inject-decide-only",
    "inject-minimal",
    "capture-control",
    "capture-identify",
    "capture-no-store",
)

_LOOK_IN = 8 * 1024
"""Leading bytes of the first chunk that inject-minimal searches for `</head>`."""


class MinimalSplice:
    """The minimum work of any injection: drop the length, put the snippet before `</head>`, pass the rest."""

    __slots__ = ("_snippet", "_placed")

    def __init__(self, snippet: bytes) -> None:
        self._snippet = snippet
        self._placed = False

    def headers(self, headers: Any) -> Any:
        headers.popall("Content-Length", None)
        return headers

    @property
    def passing_through(self) -> bool:
        return self._placed

    def feed_view(self, chunk: bytes | memoryview) -> list[bytes | memoryview]:
        self._placed = True
        head = bytes(chunk[:_LOOK_IN])
        offset = head.find(b"</head>")
        if offset < 0:
            return [chunk]
        view = chunk if isinstance(chunk, memoryview) else memoryview(chunk)
        return [head[:offset], self._snippet, view[offset:]]

    def feed(self, chunk: bytes) -> bytes:
        return chunk

    def finish(self) -> bytes:
        return b""


def _replace(owner: Any, name: str, value: Any) -> None:
    """Set `owner.name` to `value`, or stop the process when Guidegate no longer has that attribute."""
    if not hasattr(owner, name):
        raise SystemExit(f"{owner.__module__}.{owner.__name__} has no attribute {name!r} to replace; update bench/variants")
    setattr(owner, name, value)


def _decision(injector: Any, exchange: Any, upstream: Any, headers: Any) -> tuple[Any, Any]:
    """Return the app's injection target and the decision the product's cache gives for this response."""
    app, view = exchange.app, exchange.view
    target = injector._targets.get((app.name, view.scheme, view.host))
    if target is None:
        target = injector._new_target(app, view.scheme, view.host)
    decision = target.decisions.decide(exchange.request.method, exchange.upstream_headers, upstream.status, headers)
    return target, decision


def _inject_control() -> None:
    from proxy.injection import Injector

    _replace(Injector, "prepare_request", lambda self, exchange, headers: headers)
    _replace(Injector, "on_response", lambda self, exchange, upstream, headers: None)


def _inject_decide_only() -> None:
    from proxy.injection import Injector

    def rewriter(self: Any, exchange: Any, upstream: Any, headers: Any) -> None:
        _, decision = _decision(self, exchange, upstream, headers)
        if not decision.inject:
            self._metrics.child(self._metrics.injection_skips, exchange.app.name, decision.reason).inc()
        return None

    _replace(Injector, "_rewriter", rewriter)


def _inject_minimal() -> None:
    from proxy.injection import Injector

    def rewriter(self: Any, exchange: Any, upstream: Any, headers: Any) -> MinimalSplice | None:
        target, decision = _decision(self, exchange, upstream, headers)
        if not decision.inject:
            self._metrics.child(self._metrics.injection_skips, exchange.app.name, decision.reason).inc()
            return None
        return MinimalSplice(target.html_snippet(None))

    _replace(Injector, "_rewriter", rewriter)


def _capture_control() -> None:
    from proxy.capture.hook import Capture

    _replace(Capture, "prepare_request", lambda self, exchange, headers: headers)
    _replace(Capture, "on_response", lambda self, exchange, upstream, headers: None)
    _replace(Capture, "on_complete", lambda self, exchange, status: None)


def _capture_identify() -> None:
    from proxy.capture import hook

    identities: collections.deque[tuple[str, int]] = collections.deque(maxlen=1000)
    shipped_match = hook.Capture._match

    def match(self: Any, exchange: Any) -> None:
        shipped_match(self, exchange)
        state = exchange.notes.get(hook._STATE)
        if state is not None:
            exchange.notes[hook._STATE] = state.identity

    def complete(self: Any, exchange: Any, status: int) -> None:
        identity = exchange.notes.get(hook._STATE)
        if identity is not None:
            identities.append((identity.visitor_id, status))

    _replace(hook.Capture, "_match", match)
    _replace(hook.Capture, "on_response", lambda self, exchange, upstream, headers: None)
    _replace(hook.Capture, "on_complete", complete)


def _capture_no_store() -> None:
    from proxy.events.sqlite import SqliteStore

    async def write(self: Any, batch: Any) -> None:
        return None

    _replace(SqliteStore, "write", write)


_APPLY = {
    "inject-control": _inject_control,
    "inject-decide-only": _inject_decide_only,
    "inject-minimal": _inject_minimal,
    "capture-control": _capture_control,
    "capture-identify": _capture_identify,
    "capture-no-store": _capture_no_store,
}


def apply(variant: str) -> None:
    """Replace the parts that `variant` names. Raise SystemExit for a name not in VARIANTS."""
    if variant not in VARIANTS:
        raise SystemExit(f"{VARIANT_VARIABLE}={variant!r} is not a variant; expected one of {', '.join(VARIANTS)}")
    replace = _APPLY.get(variant)
    if replace is not None:
        replace()


_chosen = os.environ.get(VARIANT_VARIABLE)
if _chosen:
    apply(_chosen)
