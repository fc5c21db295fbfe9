"""The injection counters: each document counted once, by outcome, whether quick_point or the splicer placed the snippet."""

from __future__ import annotations

import pytest

from proxy.injection import CountingRewriter, SnippetFactory
from proxy.metrics import Metrics
from tests.rewrite.helpers import ORIGIN, PREFIX, VERSION, make_decision

ORDINARY = b'<!DOCTYPE html><html><head><meta charset="utf-8"><title>T</title></head><body>x</body></html>'
NO_HEAD = b"<p>A fragment-like start without html or head tags</p>" + b"y" * 1200


def counts(metrics: Metrics) -> tuple[float, dict[str, float]]:
    """Return the injections of app erp and its skips by reason."""
    injected = metrics.child(metrics.injections, "erp").value
    skips = {
        reason: metrics.child(metrics.injection_skips, "erp", reason).value
        for reason in ("no_insertion_point", "empty", "lookahead")
    }
    return injected, {reason: value for reason, value in skips.items() if value}


def run(metrics: Metrics, body: bytes) -> tuple[bytes, str | None]:
    """Send `body` in two chunks through a CountingRewriter; return the bytes out and the outcome."""
    decision = make_decision("text/html; charset=utf-8")
    rewriter = CountingRewriter(
        decision,
        SnippetFactory(ORIGIN, PREFIX, VERSION, "erp", xhtml=False),
        metrics=metrics,
        app="erp",
        accept_encoding=None,
        lookahead=65536,
        request_id="r1",
        injected=metrics.child(metrics.injections, "erp"),
    )
    middle = len(body) // 2
    out = [rewriter.feed(body[:middle]), rewriter.feed(body[middle:]), rewriter.finish()]
    return b"".join(out), rewriter.outcome


@pytest.mark.parametrize(
    ("body", "outcome", "expected"),
    [
        pytest.param(ORDINARY, "injected", (1, {}), id="placed-in-first-chunk"),
        pytest.param(NO_HEAD, "injected", (1, {}), id="placed-by-splicer"),
        pytest.param(b"", "empty", (0, {"empty": 1}), id="empty-body"),
    ],
)
def test_counted_once(body: bytes, outcome: str, expected: tuple[int, dict[str, int]]) -> None:
    metrics = Metrics()
    sent, got = run(metrics, body)
    assert got == outcome
    assert counts(metrics) == expected
    assert (b"guidegate.js" in sent) is (outcome == "injected")
