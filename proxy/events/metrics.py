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


class EventStoreOutageCollector:
    """A prometheus_client collector of the store outage in progress, from the writer's statistics:
    since when, after how many failed attempts, and how long the writer waits before the next one."""

    def __init__(self, writer: EventWriter) -> None:
        self.writer = writer

    def describe(self) -> Iterable[Metric]:
        """Return the metric families without values, so registering checks names without side effects."""
        return self.collect()

    def collect(self) -> Iterable[Metric]:
        """Return the current values, all three 0 while the store works."""
        stats = self.writer.stats()
        yield GaugeMetricFamily(
            "guidegate_event_store_failed_attempts",
            "Failed attempts in a row to open the event store or write a batch (0 while it works)",
            value=stats.failed_attempts,
        )
        yield GaugeMetricFamily(
            "guidegate_event_store_down_since_timestamp_seconds",
            "Time of the first of those failed attempts (0 while the store works)",
            value=stats.down_since or 0.0,
        )
        yield GaugeMetricFamily(
            "guidegate_event_store_retry_delay_seconds",
            "Wait before the next attempt while the store is down (0 while it works)",
            value=stats.retry_delay,
        )
