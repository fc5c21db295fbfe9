"""Counters, a gauge and a histogram without locks, for figures only the event loop's thread changes.

prometheus_client's own metrics take a lock on every update, which costs more than the rest of a
counter's work; a proxy updates several per request. These keep plain numbers and are turned into
metric families when the registry is scraped, in the same text format.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Sequence

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString


class CounterChild:
    """One label combination of a FastCounter."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        """Add `amount` (1 by default)."""
        self.value += amount


class FastCounter:
    """A labelled counter; `labels(...)` returns a child whose `inc()` is a plain addition."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str]) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._children: dict[tuple[str, ...], CounterChild] = {}

    def labels(self, *values: str) -> CounterChild:
        """Return the child of these label values, created on first use."""
        child = self._children.get(values)
        if child is None:
            if len(values) != len(self.labelnames):
                raise ValueError(f"{self.name} takes labels {self.labelnames}, got {values}")
            child = self._children[values] = CounterChild()
        return child

    def family(self) -> Metric:
        """Return the current values as a metric family."""
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, child in self._children.items():
            family.add_metric(values, child.value)
        return family


class FastGauge:
    """An unlabelled gauge moved up and down by whole steps."""

    def __init__(self, name: str, documentation: str) -> None:
        self.name = name
        self.documentation = documentation
        self.value = 0

    def inc(self) -> None:
        self.value += 1

    def dec(self) -> None:
        self.value -= 1

    def family(self) -> Metric:
        """Return the current value as a metric family."""
        return GaugeMetricFamily(self.name, self.documentation, value=self.value)


class FunctionGauge:
    """A gauge whose value a function returns at scrape time."""

    def __init__(self, name: str, documentation: str) -> None:
        self.name = name
        self.documentation = documentation
        self._function: Callable[[], float] = lambda: 0.0

    def set_function(self, function: Callable[[], float]) -> None:
        """Call `function` for the value at every scrape."""
        self._function = function

    def family(self) -> Metric:
        """Return the function's current value as a metric family."""
        return GaugeMetricFamily(self.name, self.documentation, value=self._function())


class HistogramChild:
    """One label combination of a FastHistogram: a count per bucket and the sum."""

    __slots__ = ("_bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self._bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        """Count one observation in the first bucket whose upper bound is at least `value`."""
        self.counts[bisect.bisect_left(self._bounds, value)] += 1
        self.total += value


class FastHistogram:
    """A labelled histogram with fixed upper bounds (a +Inf bucket is added)."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str], buckets: Sequence[float]) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._bounds = tuple(sorted(buckets))
        self._children: dict[tuple[str, ...], HistogramChild] = {}

    def labels(self, *values: str) -> HistogramChild:
        """Return the child of these label values, created on first use."""
        child = self._children.get(values)
        if child is None:
            if len(values) != len(self.labelnames):
                raise ValueError(f"{self.name} takes labels {self.labelnames}, got {values}")
            child = self._children[values] = HistogramChild(self._bounds)
        return child

    def family(self) -> Metric:
        """Return cumulative bucket counts and sums as a metric family."""
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        names = [floatToGoString(bound) for bound in self._bounds] + ["+Inf"]  # type: ignore[no-untyped-call]
        for values, child in self._children.items():
            cumulative = 0
            buckets = []
            for name, count in zip(names, child.counts):
                cumulative += count
                buckets.append((name, float(cumulative)))
            family.add_metric(list(values), buckets, child.total)
        return family


class FastCollector(Collector):
    """Exposes a list of fast metrics to a prometheus_client registry."""

    def __init__(self, metrics: Sequence[FastCounter | FastGauge | FunctionGauge | FastHistogram]) -> None:
        self._metrics = tuple(metrics)

    def collect(self) -> Iterator[Metric]:
        for metric in self._metrics:
            yield metric.family()
