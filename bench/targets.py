"""The performance targets, each a ratio or difference between two figures of the same run, with PASS or MISS."""

from __future__ import annotations

from dataclasses import dataclass

from bench.fixtures import BODY_SIZES
from bench.injection import GUIDEGATE_INJECTED, SLOW
from bench.results import Results
from bench.scenarios import CORE, DIRECT, DOWNLOAD, FLOOR, GUIDEGATE, GUIDEGATE_2, MITMPROXY, NGINX

SLOW_HEAD_SLACK = 0.1
"""The head of the slow page counts as passed on promptly when it arrives within this share of the delay."""


@dataclass(frozen=True)
class Verdict:
    """One target: what it requires, what was measured, and whether the measurement meets it."""

    target: str
    required: str
    measured: str
    passed: bool | None
    """None when a figure it needs was not measured in this run."""

    @property
    def label(self) -> str:
        return {True: "PASS", False: "MISS", None: "not measured"}[self.passed]


def _ratio(results: Results, section: str, case: str, metric: str, numerator: str, denominator: str) -> float | None:
    top = results.median(section, case, numerator, metric)
    bottom = results.median(section, case, denominator, metric)
    if top is None or bottom is None or bottom == 0:
        return None
    return top / bottom


def _at_least(name: str, ratio: float | None, minimum: float) -> Verdict:
    required = f">= {minimum:.0%}" if minimum < 1 else f">= {minimum:g}x"
    if ratio is None:
        return Verdict(name, required, "-", None)
    measured = f"{ratio:.0%}" if minimum < 1 else f"{ratio:.2f}x"
    return Verdict(name, required, measured, ratio >= minimum)


def evaluate(results: Results) -> list[Verdict]:
    """Return a verdict for every target, from the medians in `results`."""
    verdicts: list[Verdict] = []
    for case in BODY_SIZES:
        ratio = _ratio(results, CORE, case, "rps", GUIDEGATE, FLOOR)
        verdicts.append(_at_least(f"{case}: Guidegate req/s vs bare forwarder", ratio, 0.90))
    for case in BODY_SIZES:
        ours = results.median(CORE, case, GUIDEGATE, "ttfb_ms")
        floor = results.median(CORE, case, FLOOR, "ttfb_ms")
        name = f"{case}: time to first byte Guidegate adds to the bare forwarder's"
        if ours is None or floor is None:
            verdicts.append(Verdict(name, "<= 0.100 ms", "-", None))
        else:
            verdicts.append(Verdict(name, "<= 0.100 ms", f"{ours - floor:+.3f} ms", ours - floor <= 0.1))
    for case in BODY_SIZES:
        ratio = _ratio(results, CORE, case, "rps", GUIDEGATE, MITMPROXY)
        verdicts.append(_at_least(f"{case}: Guidegate req/s vs mitmproxy", ratio, 8.0))
    for case in results.cases(DOWNLOAD):
        ratio = _ratio(results, DOWNLOAD, case, "mbps", GUIDEGATE, NGINX)
        verdicts.append(_at_least(f"{case} download: Guidegate MB/s vs nginx proxy_pass", ratio, 1.3))
        growth = results.median(DOWNLOAD, case, GUIDEGATE, "rss_growth_mb")
        name = f"{case} download: Guidegate RSS growth"
        if growth is None:
            verdicts.append(Verdict(name, "< 5 MB", "-", None))
        else:
            verdicts.append(Verdict(name, "< 5 MB", f"{growth:.1f} MB", growth < 5))
    for case in BODY_SIZES:
        ratio = _ratio(results, CORE, case, "rps", GUIDEGATE_2, GUIDEGATE)
        verdicts.append(_at_least(f"{case}: --workers 2 req/s vs one worker", ratio, 1.6))
    for case in results.cases(SLOW):
        delay_ms = float(case.split()[2])
        direct = results.median(SLOW, case, DIRECT, "head_ms")
        ours = results.median(SLOW, case, GUIDEGATE_INJECTED, "head_ms")
        slack = SLOW_HEAD_SLACK * delay_ms
        name = f"slow page ({case}): head through Guidegate, injected, vs direct"
        if direct is None or ours is None:
            verdicts.append(Verdict(name, f"<= +{slack:.0f} ms", "-", None))
        else:
            verdicts.append(Verdict(name, f"<= +{slack:.0f} ms", f"{ours - direct:+.1f} ms", ours - direct <= slack))
    return verdicts
