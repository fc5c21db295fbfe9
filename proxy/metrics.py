"""Prometheus metrics of one server process, in a registry of its own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, disable_created_metrics, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from proxy.fastmetrics import FastCollector, FastCounter, FastGauge, FastHistogram, FunctionGauge

# The *_created series double the output and no dashboard here uses them.
disable_created_metrics()  # type: ignore[no-untyped-call]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """Counters and histograms the proxy updates on every request.

    A registry per instance (not the process-wide default) lets tests run several servers in one
    process. With several workers each process has its own figures; scrape each or sum them. The
    metrics are lock-free (proxy/fastmetrics.py): only the event loop's thread updates them.
    """

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = FastCounter("guidegate_requests_total", "Requests answered, by app and status", ["app", "status"])
        self.upstream_errors = FastCounter(
            "guidegate_upstream_errors_total", "Failed upstream exchanges, by app and kind", ["app", "kind"]
        )
        self.latency = FastHistogram(
            "guidegate_request_duration_seconds", "Time from request to the last response byte, by app", ["app"], LATENCY_BUCKETS
        )
        self.bytes_in = FastCounter("guidegate_request_bytes_total", "Request body bytes received from clients", ["app"])
        self.bytes_out = FastCounter("guidegate_response_bytes_total", "Response body bytes sent to clients", ["app"])
        self.open_connections = FunctionGauge("guidegate_open_connections", "Client connections currently open")
        self.in_flight = FastGauge("guidegate_requests_in_flight", "Requests being answered")
        self.injections = FastCounter("guidegate_injections_total", "HTML documents the runtime was spliced into, by app", ["app"])
        self.injection_skips = FastCounter(
            "guidegate_injection_skips_total", "Responses not injected, by app and reason", ["app", "reason"]
        )
        self.failures = FastCounter(
            "guidegate_fail_open_total",
            "Errors in Guidegate's own processing that let the original response through, by app and stage",
            ["app", "stage"],
        )
        self.registry.register(
            FastCollector(
                [
                    self.requests,
                    self.upstream_errors,
                    self.latency,
                    self.bytes_in,
                    self.bytes_out,
                    self.open_connections,
                    self.in_flight,
                    self.injections,
                    self.injection_skips,
                    self.failures,
                ]
            )
        )

    def child(self, metric: FastCounter | FastHistogram, *labels: str) -> Any:
        """Return the labelled child of `metric`."""
        return metric.labels(*labels)

    def count_request(self, app: str, status: int, duration: float, bytes_in: int, bytes_out: int) -> None:
        """Count one completed request of `app` with its status, duration in seconds and body sizes."""
        self.requests.labels(app, str(status)).value += 1
        self.latency.labels(app).observe(duration)
        if bytes_in:
            self.bytes_in.labels(app).value += bytes_in
        if bytes_out:
            self.bytes_out.labels(app).value += bytes_out

    def track_connections(self, count: Callable[[], int]) -> None:
        """Report the open connection count by calling `count` at scrape time."""
        self.open_connections.set_function(lambda: float(count()))

    def render(self) -> bytes:
        """Return every metric in the Prometheus text format."""
        return generate_latest(self.registry)
