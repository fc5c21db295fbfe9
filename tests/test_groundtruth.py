"""Ground truth: scripted visitors go through the proxy, and `guidegate report` must count exactly what they did.

Each visitor's script is known, so every number of the report is known too: the funnels of both
workflows for everyone and per role, the feature use, the guide's effect and the help trend. The
same run is made on SQLite and on PostgreSQL, there with two proxy instances sharing the database
and each visitor's requests alternating between them.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import hmac
import json
import statistics
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from conftest_pg import postgres_cluster, postgres_dsn

from capture.site import RULES, ProcurementSite
from conftest import Running, StartProxy, StartUpstream
from proxy.cli import main
from proxy.events import Event

__all__ = ["postgres_cluster", "postgres_dsn"]

SECRET = "0123456789abcdef0123456789abcdef"
WINDOW = 2.0
"""Seconds a raise-po run has; carol's unfinished run must be older than this when the report runs."""

GROUND_RULES = RULES.replace("window: 30m", f"window: {WINDOW:g}s") + (
    "guides:\n  - {id: po-help, kind: banner, title: Raising orders, body: Use the form., workflows: [raise-po]}\n"
)

VISITORS: dict[str, tuple[str, list[str]]] = {
    # Carol goes first: her run stops after the submit step and must outlive the window.
    "carol": ("buyer", ["open", "submit"]),
    "alice": ("clerk", ["saw-guide", "open", "submit", "confirm", "export"]),
    "bob": ("clerk", ["open", "submit-invalid", "submit", "confirm", "help"]),
    "dave": ("buyer", ["open", "cancel"]),
    "erin": ("buyer,clerk", ["open", "submit", "confirm"]),
}
"""User name -> (groups, which become roles; the actions of the visitor, in order)."""


def config_text(upstream: str, storage: str) -> str:
    return f"""
trusted_proxies: [127.0.0.1/32]
visitor: {{secret: "{SECRET}"}}
storage: {storage}
apps:
  - name: erp
    upstream: {upstream}/legacy/
    path_prefix: /erp/
    rules: [rules.yaml]
    identity: {{sources: [headers], keep_unmapped_groups: true}}
"""


async def act(client: aiohttp.ClientSession, action: str, state: dict[str, str]) -> int:
    """Perform one scripted action; return the response status."""
    form = {"vendor": "Acme", "currency": "EUR"}
    if action == "open":
        request = client.get("/erp/po/new")
    elif action in ("submit", "submit-invalid"):
        request = client.post("/erp/po/new", data=form if action == "submit" else {**form, "vendor": ""}, allow_redirects=False)
    elif action == "confirm":
        request = client.get(state["order"])
    elif action == "cancel":
        request = client.get("/erp/po/new/cancel", allow_redirects=False)
    elif action == "export":
        request = client.get("/erp/po/export", params={"format": "csv"})
    else:
        kind = {"saw-guide": {"kind": "guide_shown", "guide": "po-help"}, "help": {"kind": "help_opened"}}[action]
        request = client.post("/__guidegate/events", params={"app": "erp"}, json={"events": [kind]})
    async with request as response:
        await response.read()
        if "Location" in response.headers:
            state["order"] = response.headers["Location"]
        return response.status


EXPECTED_STATUSES = {"open": 200, "submit": 302, "submit-invalid": 200, "confirm": 200, "cancel": 302, "export": 200, "saw-guide": 202, "help": 202}


async def simulate(proxies: list[Running]) -> None:
    """Drive every visitor's script, alternating its requests between the proxies, then wait out carol's window."""
    started = time.monotonic()
    count = 0
    for user, (groups, actions) in VISITORS.items():
        headers = {"X-Forwarded-User": user, "X-Forwarded-Groups": groups}
        state: dict[str, str] = {}
        for action in actions:
            proxy = proxies[count % len(proxies)]
            count += 1
            async with aiohttp.ClientSession(proxy.url, headers=headers) as client:
                status = await act(client, action, state)
            assert status == EXPECTED_STATUSES[action], (user, action)
    for proxy in proxies:
        await proxy.gateway.capture.drain(timeout=5)
        assert await proxy.gateway.writer.flush(timeout=5)
    await asyncio.sleep(max(0.0, started + WINDOW + 0.2 - time.monotonic()))


async def completion_seconds(proxy: Running) -> dict[str, float]:
    """Seconds from each completed run's first event to its confirm event, from the stored event times."""
    events: list[Event] = await proxy.gateway.store.read_events("erp", 0, time.time() + 60)
    first: dict[str, float] = {}
    done: dict[str, float] = {}
    for event in events:
        if event.name != "raise-po":
            continue
        first.setdefault(event.visitor, event.time)
        if event.step == "confirm":
            done[event.visitor] = event.time - first[event.visitor]
    users = {visitor_id(user): user for user in VISITORS}
    return {users[visitor]: value for visitor, value in done.items()}


def visitor_id(user: str) -> str:
    """The visitor id of a known user: 'u-' and the first 32 hex digits of HMAC-SHA256(secret, 'user' NUL name)."""
    return "u-" + hmac.new(SECRET.encode(), b"user\x00" + user.encode(), hashlib.sha256).hexdigest()[:32]


def funnel(role: str | None, counts: tuple[int, ...], durations: list[float], steps: list[tuple[str, int, int, int, int]]) -> dict[str, Any]:
    started, completed, abandoned, cancelled, failed_runs = counts
    ordered = sorted(durations)
    return {
        "role": role,
        "started": started,
        "completed": completed,
        "abandoned": abandoned,
        "cancelled": cancelled,
        "open": 0,
        "failed_runs": failed_runs,
        "conversion": completed / started if started else None,
        "median_seconds": statistics.median(ordered) if ordered else None,
        "p90_seconds": ordered[-1] if ordered else None,
        "steps": [
            {"step": step, "reached": reached, "passed": passed, "failures": failures, "stopped": stopped}
            for step, reached, passed, failures, stopped in steps
        ],
    }


def expected_report(today: datetime.date, seconds: dict[str, float]) -> dict[str, Any]:
    """The report the scripts make, written out from the scripts alone (only the durations are measured)."""
    yesterday = today - datetime.timedelta(days=1)
    everyone = [seconds["alice"], seconds["bob"], seconds["erin"]]
    no_invoice = funnel(None, (0, 0, 0, 0, 0), [], [("post", 0, 0, 0, 0)])
    return {
        "app": "erp",
        "since": f"{yesterday.isoformat()}T00:00:00Z",
        "until": f"{(today + datetime.timedelta(days=1)).isoformat()}T00:00:00Z",
        "role": None,
        "workflow": None,
        "go_live": None,
        "active_visitors": 5,
        "roles": [{"role": "buyer", "visitors": 3}, {"role": "clerk", "visitors": 3}],
        "workflows": [
            {
                "id": "raise-po",
                "title": "Raise a purchase order",
                "order": "ordered",
                "window_seconds": WINDOW,
                "total": funnel(
                    None, (5, 3, 2, 1, 1), everyone,
                    [("open", 5, 5, 0, 1), ("submit", 4, 4, 1, 1), ("confirm", 3, 3, 0, 0)],
                ),
                "by_role": [
                    funnel(
                        "buyer", (3, 1, 2, 1, 0), [seconds["erin"]],
                        [("open", 3, 3, 0, 1), ("submit", 2, 2, 0, 1), ("confirm", 1, 1, 0, 0)],
                    ),
                    funnel(
                        "clerk", (3, 3, 0, 0, 1), everyone,
                        [("open", 3, 3, 0, 0), ("submit", 3, 3, 1, 0), ("confirm", 3, 3, 0, 0)],
                    ),
                ],
            },
            {
                "id": "book-invoice",
                "title": "Book an invoice",
                "order": "ordered",
                "window_seconds": 3600.0,
                "total": no_invoice,
                "by_role": [{**no_invoice, "role": "buyer"}, {**no_invoice, "role": "clerk"}],
            },
        ],
        "features": [
            {
                "id": "po-export",
                "title": "Export orders",
                "events": 1,
                "users": 1,
                "active": 5,
                "share": 0.2,
                "by_role": [
                    {"role": "buyer", "users": 0, "active": 3, "share": 0.0},
                    {"role": "clerk", "users": 1, "active": 3, "share": 1 / 3},
                ],
            }
        ],
        "unused_features": [{"role": "buyer", "features": ["po-export"]}],
        "guides": [
            {
                "id": "po-help",
                "title": "Raising orders",
                "shown": 1,
                "viewers": 1,
                "completed": 0,
                "dismissed": 0,
                "target_missing": 0,
                "effects": [
                    {
                        "workflow": "raise-po",
                        "saw": {"visitors": 1, "runs": 1, "completed": 1, "conversion": 1.0, "failed_runs": 0, "failure_rate": 0.0},
                        "did_not_see": {
                            "visitors": 4, "runs": 4, "completed": 2, "conversion": 0.5, "failed_runs": 1, "failure_rate": 0.25,
                        },
                    }
                ],
            }
        ],
        "help": [{"week": 1, "start": yesterday.isoformat(), "requests": 1, "visitors": 1}],
    }


async def report(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], datetime.date]:
    """Run `guidegate report --format json` over yesterday and today, as an admin would."""
    today = datetime.datetime.now(datetime.timezone.utc).date()
    since = (today - datetime.timedelta(days=1)).isoformat()
    capsys.readouterr()
    arguments = ["report", "--config", str(config), "--format", "json", "--since", since, "--until", today.isoformat()]
    code = await asyncio.to_thread(main, arguments)
    output = capsys.readouterr()
    assert (code, output.err) == (0, "")
    body: dict[str, Any] = json.loads(output.out)
    return body, today


async def start_site(start_upstream: StartUpstream, tmp_path: Path) -> Running:
    site = ProcurementSite()
    upstream = await start_upstream(site.application())
    (tmp_path / "rules.yaml").write_text(GROUND_RULES, encoding="utf-8")
    return upstream


async def test_report_truth_sqlite(
    tmp_path: Path, start_upstream: StartUpstream, start_proxy: StartProxy, capsys: pytest.CaptureFixture[str]
) -> None:
    upstream = await start_site(start_upstream, tmp_path)
    proxy = await start_proxy(config_text(upstream.url, "{path: events.sqlite3, flush_interval: 20ms}"))

    await simulate([proxy])
    seconds = await completion_seconds(proxy)
    body, today = await report(tmp_path / "config.yaml", capsys)

    assert sorted(seconds) == ["alice", "bob", "erin"]
    assert body.pop("as_of") >= body["since"]
    assert body == expected_report(today, seconds)


@pytest.mark.postgres
async def test_report_truth_postgres_two_instances(
    tmp_path: Path,
    start_upstream: StartUpstream,
    start_proxy: StartProxy,
    postgres_dsn: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    upstream = await start_site(start_upstream, tmp_path)
    storage = f'{{backend: postgresql, dsn: "{postgres_dsn}", flush_interval: 20ms}}'
    proxies = [await start_proxy(config_text(upstream.url, storage)) for _ in range(2)]

    await simulate(proxies)
    seconds = await completion_seconds(proxies[0])
    body, today = await report(tmp_path / "config.yaml", capsys)

    assert [proxy.gateway.writer.stats().written for proxy in proxies] == [9, 8]
    assert sorted(seconds) == ["alice", "bob", "erin"]
    assert body.pop("as_of") >= body["since"]
    assert body == expected_report(today, seconds)
