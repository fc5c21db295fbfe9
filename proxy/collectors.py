"""Prometheus collectors read at scrape time: rule loading, the event writer and the runtime's browser events."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from proxy.events import EventWriter
from proxy.events.metrics import EventStoreOutageCollector, EventWriterCollector
from proxy.ruleset.watcher import RuleWatcher


class GatewayCollector:
    """A prometheus_client collector over counters that other parts keep: register it once per registry.

    `runtime_counts` returns the runtime endpoints' counts (`events_accepted`, `events_dropped`,
    `events_rejected`, `rate_limited`); a missing key reads as 0.
    """

    def __init__(self, rules: RuleWatcher, writer: EventWriter, runtime_counts: Callable[[], Mapping[str, int]]) -> None:
        self._rules = rules
        self._writer = EventWriterCollector(writer)
        self._outage = EventStoreOutageCollector(writer)
        self._runtime_counts = runtime_counts

    def describe(self) -> Iterable[Metric]:
        """Return the metric families, so that registering checks their names against the registry's."""
        return list(self.collect())

    def collect(self) -> Iterable[Metric]:
        """Return the current values."""
        stats = self._rules.stats
        yield GaugeMetricFamily("guidegate_rules_loaded", "Guides, workflows and features in the rule set that serves", value=stats.rules_loaded)
        yield GaugeMetricFamily("guidegate_rule_files_loaded", "Rule files in the rule set that serves", value=stats.files_loaded)
        yield CounterMetricFamily("guidegate_rule_reloads", "Rule reloads that took effect, not counting the first load", value=stats.reloads)
        yield CounterMetricFamily(
            "guidegate_rule_reload_errors", "Rule loads rejected because of problems in the files", value=stats.reload_errors
        )
        yield GaugeMetricFamily(
            "guidegate_rules_last_good_load_timestamp_seconds",
            "Unix time at which the rule set that serves was loaded (0 before the first good load)",
            value=stats.last_good_load or 0.0,
        )

        yield from self._writer.collect()
        yield from self._outage.collect()

        counts = self._runtime_counts()
        events = CounterMetricFamily(
            "guidegate_runtime_events", "Engagement events the browser runtime posted, by what became of them", labels=["result"]
        )
        events.add_metric(["accepted"], counts.get("events_accepted", 0))
        events.add_metric(["dropped"], counts.get("events_dropped", 0))
        yield events
        batches = CounterMetricFamily(
            "guidegate_runtime_batches_rejected", "Posted event batches rejected whole, by reason", labels=["reason"]
        )
        batches.add_metric(["invalid"], counts.get("events_rejected", 0))
        batches.add_metric(["rate_limited"], counts.get("rate_limited", 0))
        yield batches
