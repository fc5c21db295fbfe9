"""Prometheus view of the event writer's counters, read when the metrics endpoint is scraped."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from proxy.events.writer import EventWriter


class EventWriterCollector:
    """A prometheus_client collector: register it with `registry.register(EventWriterCollector(writer))`."""

    def __init__(self, writer: EventWriter) -> None:
        self.writer = writer

    def describe(self) -> Iterable[Metric]:
        """Return the metric families without values, so registering checks names without side effects."""
        return self.collect()

    def collect(self) -> Iterable[Metric]:
        """Return the current values."""
        stats = self.writer.stats()
        yield GaugeMetricFamily(
            "guidegate_events_queued", "Events accepted and not yet written", value=stats.queued + stats.pending
        )
        yield CounterMetricFamily("guidegate_events_accepted", "Events accepted into the queue", value=stats.accepted)
        yield CounterMetricFamily("guidegate_events_written", "Events written to the store", value=stats.written)
        dropped = CounterMetricFamily("guidegate_events_dropped", "Events lost, by reason", labels=["reason"])
        dropped.add_metric(["queue_full"], stats.dropped_queue_full)
        dropped.add_metric(["rejected"], stats.dropped_rejected)
        dropped.add_metric(["shutdown"], stats.dropped_shutdown)
        yield dropped
        yield CounterMetricFamily(
            "guidegate_event_store_errors", "Failed attempts to open the event store or write a batch", value=stats.write_errors
        )
        yield GaugeMetricFamily(
            "guidegate_event_store_up", "1 when the last store operation succeeded", value=1 if stats.store_available else 0
        )
        yield GaugeMetricFamily(
            "guidegate_event_store_last_error_timestamp_seconds",
            "Time of the last store error (0 when none)",
            value=stats.last_error_time or 0.0,
        )
        yield CounterMetricFamily(
            "guidegate_events_deleted", "Events deleted by retention", value=stats.retention_deleted
        )
