"""Lock-free metrics render exactly as prometheus_client's own metrics with the same observations."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest

from proxy.fastmetrics import FastCollector, FastCounter, FastGauge, FastHistogram, FunctionGauge

# As the proxy's registry does: no *_created series.
disable_created_metrics()  # type: ignore[no-untyped-call]

BUCKETS = (0.001, 0.01, 0.1, 1.0, 10.0)
OBSERVATIONS = (0.0, 0.001, 0.0011, 0.05, 0.1, 2.0, 10.0, 11.5)


def reference() -> bytes:
    registry = CollectorRegistry()
    requests = Counter("demo_requests_total", "Requests, by app and status", ["app", "status"], registry=registry)
    latency = Histogram("demo_duration_seconds", "Durations, by app", ["app"], buckets=BUCKETS, registry=registry)
    in_flight = Gauge("demo_in_flight", "Requests being answered", registry=registry)
    connections = Gauge("demo_connections", "Open connections", registry=registry)
    requests.labels("erp", "200").inc()
    requests.labels("erp", "200").inc(2)
    requests.labels("hr", "502").inc()
    for value in OBSERVATIONS:
        latency.labels("erp").observe(value)
    in_flight.inc()
    in_flight.inc()
    in_flight.dec()
    connections.set_function(lambda: 7.0)
    return generate_latest(registry)


def fast() -> bytes:
    registry = CollectorRegistry()
    requests = FastCounter("demo_requests_total", "Requests, by app and status", ["app", "status"])
    latency = FastHistogram("demo_duration_seconds", "Durations, by app", ["app"], BUCKETS)
    in_flight = FastGauge("demo_in_flight", "Requests being answered")
    connections = FunctionGauge("demo_connections", "Open connections")
    registry.register(FastCollector([requests, latency, in_flight, connections]))
    requests.labels("erp", "200").inc()
    requests.labels("erp", "200").inc(2)
    requests.labels("hr", "502").inc()
    for value in OBSERVATIONS:
        latency.labels("erp").observe(value)
    in_flight.inc()
    in_flight.inc()
    in_flight.dec()
    connections.set_function(lambda: 7.0)
    return generate_latest(registry)


def test_same_text() -> None:
    assert fast().decode() == reference().decode()


@pytest.mark.parametrize(
    ("metric", "values", "message"),
    [
        pytest.param(
            FastCounter("demo_total", "Demo", ["app", "status"]), ("erp",),
            "demo_total takes labels ('app', 'status'), got ('erp',)", id="counter",
        ),
        pytest.param(
            FastHistogram("demo_seconds", "Demo", ["app"], BUCKETS), ("erp", "200"),
            "demo_seconds takes labels ('app',), got ('erp', '200')", id="histogram",
        ),
    ],
)
def test_wrong_label_count(metric: FastCounter | FastHistogram, values: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError) as raised:
        metric.labels(*values)

    assert str(raised.value) == message
