"""Prometheus metrics of one server process, in a registry of its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# The *_created series double the output and no dashboard here uses them.
disable_created_metrics()  # type: ignore[no-untyped-call]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """Counters and histograms the proxy updates on every request.

    A registry per instance (not the process-wide default) lets tests run several servers in one
    process. With several workers each process has its own figures; scrape each or sum them.
    """

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self.requests = Counter(
            "guidegate_requests_total", "Requests answered, by app and status", ["app", "status"], registry=self.registry
        )
        self.upstream_errors = Counter(
            "guidegate_upstream_errors_total",
            "Failed upstream exchanges, by app and kind",
            ["app", "kind"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "guidegate_request_duration_seconds",
            "Time from request to the last response byte, by app",
            ["app"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.bytes_in = Counter(
            "guidegate_request_bytes_total", "Request body bytes received from clients", ["app"], registry=self.registry
        )
        self.bytes_out = Counter(
            "guidegate_response_bytes_total", "Response body bytes sent to clients", ["app"], registry=self.registry
        )
        self.open_connections = Gauge(
            "guidegate_open_connections", "Client connections currently open", registry=self.registry
        )
        self.in_flight = Gauge("guidegate_requests_in_flight", "Requests being answered", registry=self.registry)
        self.injections = Counter(
            "guidegate_injections_total", "HTML documents the runtime was spliced into, by app", ["app"], registry=self.registry
        )
        self.injection_skips = Counter(
            "guidegate_injection_skips_total",
            "Responses not injected, by app and reason",
            ["app", "reason"],
            registry=self.registry,
        )
        self.failures = Counter(
            "guidegate_fail_open_total",
            "Errors in Guidegate's own processing that let the original response through, by app and stage",
            ["app", "stage"],
            registry=self.registry,
        )

    def child(self, metric: Counter | Histogram, *labels: str) -> Any:
        """Return the labelled child of `metric`, cached: prometheus_client's labels() is slow on the hot path."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def count_request(self, app: str, status: int, duration: float, bytes_in: int, bytes_out: int) -> None:
        """Count one completed request of `app` with its status, duration in seconds and body sizes."""
        self.child(self.requests, app, str(status)).inc()
        self.child(self.latency, app).observe(duration)
        if bytes_in:
            self.child(self.bytes_in, app).inc(bytes_in)
        if bytes_out:
            self.child(self.bytes_out, app).inc(bytes_out)

    def track_connections(self, count: Callable[[], int]) -> None:
        """Report the open connection count by calling `count` at scrape time."""
        self.open_connections.set_function(lambda: float(count()))

    def render(self) -> bytes:
        """Return every metric in the Prometheus text format."""
        return generate_latest(self.registry)
