"""The metrics endpoint's rule, event writer and runtime figures, scraped from a running proxy."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from conftest import Running, StartProxy, StartUpstream

RULES = """\
guides:
  - {id: news, kind: banner, title: News, body: Hello}
workflows:
  - id: order
    title: Order
    steps: [{name: open, path: /po/new}]
"""
MORE_RULES = RULES + "features:\n  - {id: export, title: Export, requests: /po/export}\n"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(proxy: Running) -> Samples:
    async with aiohttp.ClientSession(proxy.url) as client:
        async with client.get("/__guidegate/metrics") as response:
            assert response.status == 200
            text = await response.text()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def pick(samples: Samples, *names: str) -> dict[str, float]:
    """The samples of the named metrics, keyed 'name' or 'name{label=value}'."""
    picked = {}
    for (name, labels), value in samples.items():
        if name in names:
            suffix = "{" + ",".join(f"{key}={label}" for key, label in labels) + "}" if labels else ""
            picked[name + suffix] = value
    return picked


async def test_metrics_rules_writer_runtime(tmp_path: Path, start_upstream: StartUpstream, start_proxy: StartProxy) -> None:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<html><body>form</body></html>", content_type="text/html")

    upstream = web.Application()
    upstream.router.add_get("/{tail:.*}", page)
    site = await start_upstream(upstream)
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    proxy = await start_proxy(
        f"""
storage: {{path: events.sqlite3, queue_size: 3, flush_interval: 20ms}}
apps:
  - {{name: erp, upstream: "{site.url}/", rules: [rules.yaml]}}
"""
    )
    gateway = proxy.gateway
    first_load = gateway.rules.stats.last_good_load

    rules.write_text(MORE_RULES, encoding="utf-8")
    reloaded = gateway.rules.reload_now()
    rules.write_text(MORE_RULES + "  - {id: broken}\n", encoding="utf-8")
    rejected = gateway.rules.reload_now()
    good_load = gateway.rules.stats.last_good_load

    events = {"events": [{"kind": "guide_shown", "guide": "news"}] * 5}
    async with aiohttp.ClientSession(proxy.url) as client:
        async with client.post("/__guidegate/events?app=erp", json=events) as response:
            posted = await response.json()
        async with client.post("/__guidegate/events?app=erp", json={"events": [{"kind": "nonsense"}]}) as response:
            invalid_status = response.status
    assert await gateway.writer.flush(timeout=5)

    samples = await scrape(proxy)

    assert (reloaded, rejected, posted, invalid_status) == (True, False, {"accepted": 3, "dropped": 2}, 400)
    assert first_load is not None
    assert good_load is not None
    assert good_load >= first_load
    assert pick(
        samples,
        "guidegate_rules_loaded",
        "guidegate_rule_files_loaded",
        "guidegate_rule_reloads_total",
        "guidegate_rule_reload_errors_total",
        "guidegate_rules_last_good_load_timestamp_seconds",
    ) == {
        "guidegate_rules_loaded": 3.0,
        "guidegate_rule_files_loaded": 1.0,
        "guidegate_rule_reloads_total": 1.0,
        "guidegate_rule_reload_errors_total": 1.0,
        "guidegate_rules_last_good_load_timestamp_seconds": good_load,
    }
    assert pick(
        samples,
        "guidegate_events_queued",
        "guidegate_events_accepted_total",
        "guidegate_events_written_total",
        "guidegate_events_dropped_total",
        "guidegate_event_store_errors_total",
        "guidegate_event_store_up",
    ) == {
        "guidegate_events_queued": 0.0,
        "guidegate_events_accepted_total": 3.0,
        "guidegate_events_written_total": 3.0,
        "guidegate_events_dropped_total{reason=queue_full}": 2.0,
        "guidegate_events_dropped_total{reason=rejected}": 0.0,
        "guidegate_events_dropped_total{reason=shutdown}": 0.0,
        "guidegate_event_store_errors_total": 0.0,
        "guidegate_event_store_up": 1.0,
    }
    assert pick(samples, "guidegate_runtime_events_total", "guidegate_runtime_batches_rejected_total") == {
        "guidegate_runtime_events_total{result=accepted}": 3.0,
        "guidegate_runtime_events_total{result=dropped}": 2.0,
        "guidegate_runtime_batches_rejected_total{reason=invalid}": 1.0,
        "guidegate_runtime_batches_rejected_total{reason=rate_limited}": 0.0,
    }
    assert ("guidegate_requests_in_flight", ()) in samples
