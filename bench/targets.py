"""The performance targets, each a ratio or difference between two figures of the same run, with PASS or MISS."""

from __future__ import annotations

import os
from dataclasses import dataclass

from bench.fixtures import BODY_SIZES
from bench.injection import GUIDEGATE_INJECTED, SLOW
from bench.results import Results
from bench.scenarios import CORE, DIRECT, DOWNLOAD, FLOOR, GUIDEGATE, GUIDEGATE_2, MITMPROXY, NGINX

WORKERS_RATIO = 1.6
"""The required req/s of --workers 2 over one worker."""

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
    per_repeat: str = ""
    """The same ratio or difference in each repeat, to show the spread behind the median."""

    @property
    def label(self) -> str:
        return {True: "PASS", False: "MISS", None: "not measured"}[self.passed]


def _ratio(results: Results, section: str, case: str, metric: str, numerator: str, denominator: str) -> float | None:
    top = results.median(section, case, numerator, metric)
    bottom = results.median(section, case, denominator, metric)
    if top is None or bottom is None or bottom == 0:
        return None
    return top / bottom


def _per_repeat(
    results: Results, section: str, case: str, metric: str, first: str, second: str, *, difference: bool = False
) -> list[float]:
    """Return first/second (or first - second) in each repeat, where both were measured in every repeat."""
    tops = results.values.get((section, case, first, metric), [])
    bottoms = results.values.get((section, case, second, metric), [])
    if len(tops) != len(bottoms):
        return []
    if difference:
        return [top - bottom for top, bottom in zip(tops, bottoms)]
    return [top / bottom for top, bottom in zip(tops, bottoms) if bottom]


def _at_least(name: str, ratio: float | None, minimum: float, per_repeat: list[float]) -> Verdict:
    required = f">= {minimum:.0%}" if minimum < 1 else f">= {minimum:g}x"
    if ratio is None:
        return Verdict(name, required, "-", None)
    if minimum < 1:
        return Verdict(name, required, f"{ratio:.0%}", ratio >= minimum, ", ".join(f"{value:.0%}" for value in per_repeat))
    return Verdict(name, required, f"{ratio:.2f}x", ratio >= minimum, ", ".join(f"{value:.2f}x" for value in per_repeat))


def _at_most(name: str, difference: float | None, maximum: float, unit: str, per_repeat: list[float]) -> Verdict:
    digits = 3 if unit == "ms" and maximum < 1 else 1
    required = f"<= +{maximum:.{digits}f} {unit}"
    if difference is None:
        return Verdict(name, required, "-", None)
    spread = ", ".join(f"{value:+.{digits}f}" for value in per_repeat)
    return Verdict(name, required, f"{difference:+.{digits}f} {unit}", difference <= maximum, spread)


def _difference(results: Results, section: str, case: str, metric: str, first: str, second: str) -> float | None:
    top = results.median(section, case, first, metric)
    bottom = results.median(section, case, second, metric)
    return None if top is None or bottom is None else top - bottom


def workers_bound(results: Results, case: str, cores: int) -> float | None:
    """Return the highest req/s ratio over one worker that `cores` CPUs allow, from the one-worker run's costs.

    Each request costs CPU in the proxy, the upstream and wrk. With every core busy, no number of
    workers can serve more than cores / (sum of the three) requests per second.
    """
    rps = results.median(CORE, case, GUIDEGATE, "rps")
    proxy = results.median(CORE, case, GUIDEGATE, "cpu_us")
    load = results.median(CORE, case, GUIDEGATE, "load_cpu_us")
    upstream_pct = results.median(CORE, case, GUIDEGATE, "upstream_cpu_pct")
    if not rps or proxy is None or not load or upstream_pct is None:
        return None
    upstream = upstream_pct / 100 * 1e6 / rps
    return cores * 1e6 / (proxy + upstream + load) / rps


def evaluate(results: Results) -> list[Verdict]:
    """Return a verdict for every target, from the medians in `results`."""
    verdicts: list[Verdict] = []
    for case in BODY_SIZES:
        verdicts.append(_at_least(
            f"{case}: Guidegate req/s vs bare forwarder",
            _ratio(results, CORE, case, "rps", GUIDEGATE, FLOOR), 0.90,
            _per_repeat(results, CORE, case, "rps", GUIDEGATE, FLOOR),
        ))
    for case in BODY_SIZES:
        verdicts.append(_at_most(
            f"{case}: time to first byte Guidegate adds to the bare forwarder's",
            _difference(results, CORE, case, "ttfb_ms", GUIDEGATE, FLOOR), 0.1, "ms",
            _per_repeat(results, CORE, case, "ttfb_ms", GUIDEGATE, FLOOR, difference=True),
        ))
    for case in BODY_SIZES:
        verdicts.append(_at_least(
            f"{case}: Guidegate req/s vs mitmproxy",
            _ratio(results, CORE, case, "rps", GUIDEGATE, MITMPROXY), 8.0,
            _per_repeat(results, CORE, case, "rps", GUIDEGATE, MITMPROXY),
        ))
    for case in results.cases(DOWNLOAD):
        verdicts.append(_at_least(
            f"{case} download: Guidegate MB/s vs nginx proxy_pass",
            _ratio(results, DOWNLOAD, case, "mbps", GUIDEGATE, NGINX), 1.3,
            _per_repeat(results, DOWNLOAD, case, "mbps", GUIDEGATE, NGINX),
        ))
        growth = results.median(DOWNLOAD, case, GUIDEGATE, "rss_growth_mb")
        name = f"{case} download: Guidegate RSS growth"
        if growth is None:
            verdicts.append(Verdict(name, "< 5 MB", "-", None))
        else:
            spread = ", ".join(f"{value:.1f}" for value in results.values[(DOWNLOAD, case, GUIDEGATE, "rss_growth_mb")])
            verdicts.append(Verdict(name, "< 5 MB", f"{growth:.1f} MB", growth < 5, spread))
    for case in BODY_SIZES:
        bound = workers_bound(results, case, os.cpu_count() or 1)
        if bound is not None and bound < WORKERS_RATIO:
            results.note(
                f"{case}: per request, wrk, the upstream and one Guidegate worker together used CPU that allows at most "
                f"{bound:.2f}x the one-worker req/s on {os.cpu_count()} cores, whatever the number of workers. So the "
                f"{WORKERS_RATIO:g}x target for --workers 2 cannot be reached on this machine."
            )
        verdicts.append(_at_least(
            f"{case}: --workers 2 req/s vs one worker",
            _ratio(results, CORE, case, "rps", GUIDEGATE_2, GUIDEGATE), WORKERS_RATIO,
            _per_repeat(results, CORE, case, "rps", GUIDEGATE_2, GUIDEGATE),
        ))
    for case in results.cases(SLOW):
        slack = SLOW_HEAD_SLACK * float(case.split()[2])
        verdicts.append(_at_most(
            f"slow page ({case}): head through Guidegate, injected, later than direct by",
            _difference(results, SLOW, case, "head_ms", GUIDEGATE_INJECTED, DIRECT), slack, "ms",
            _per_repeat(results, SLOW, case, "head_ms", GUIDEGATE_INJECTED, DIRECT, difference=True),
        ))
    return verdicts
