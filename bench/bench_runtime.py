"""Browser runtime benchmark: its gzipped size, and the main-thread time it adds to a page load in headless Chromium.

Run alone with `.venv/bin/python -m bench.bench_runtime [--loads N]`; `run()` returns the figures as a
dict for the harness. Each load opens a new tab in one browser context, so the runtime files come
from the HTTP cache after the first load, as for a returning user. It waits a fixed time after the
load event and reads the renderer's TaskDuration and ScriptDuration through the Chrome DevTools
Protocol (`Performance.getMetrics`). Loads of the page with and without the script tag
alternate, and the figures are medians, so a slow moment of the machine hits both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web
from playwright.async_api import Browser, BrowserContext, async_playwright

from proxy.events.model import Event
from proxy.rewrite.snippet import build_snippet
from proxy.ruleset import load_rule_paths
from proxy.runtime import MemoryStateStore, RequestContext, RulesetPages, RuntimeAssets, RuntimeEndpoints

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--headless",
]
PREFIX = "/__guidegate/"
TARGET_MS = 50.0
"""Main-thread time the runtime may add to a page load, in milliseconds."""
BUDGET_BYTES = 25 * 1024
"""Gzipped size of the runtime's script and stylesheet together, at most."""
SETTLE_MS = 1000
"""Time from the load event to reading the metrics; the runtime has shown its guides well before."""

WALKTHROUGH = """
  - id: order-walk
    kind: walkthrough
    title: Raise a purchase order
    pages: [/order]
    frequency: every_visit
    steps:
      - title: Vendor
        body: Type the **vendor** name as it appears on the quote.
        target: ["#vendor", "input[name=vendor]"]
      - body: Then the amount, net of VAT.
        target: "#amount"
"""
TIP = """
  - id: amount-tip
    kind: tip
    title: Amounts
    body: Amounts are net, without VAT.
    pages: [/order]
    target: "#amount"
"""
BANNER = """
  - id: maintenance
    kind: banner
    title: Maintenance
    body: The app is read-only on Saturday morning.
    pages: [/order]
"""

SCENARIOS = {
    "no_guide": ("", ".gg-launcher"),
    "walkthrough_tip": (WALKTHROUGH + TIP, ".gg-pop"),
    "walkthrough_tip_banner": (WALKTHROUGH + TIP + BANNER, ".gg-banner"),
}
"""Scenario name -> (guides of the rule file, what the runtime must show). Without a guide only the
help launcher shows; the banner moves the page down, which costs one layout of the whole page."""


def legacy_page(snippet: str) -> str:
    """Return a legacy-style order page of about 60 KB: a form of 40 fields and a table of 300 rows."""
    fields = "\n".join(
        f'<tr><td><label for="f{index}">Field {index}</label></td><td><input id="f{index}" name="f{index}" value="v{index}"></td></tr>'
        for index in range(40)
    )
    rows = "\n".join(
        f"<tr><td>{index}</td><td>PO-{10000 + index}</td><td>Vendor {index % 17}</td><td>{index * 13.5:.2f}</td><td>open</td></tr>"
        for index in range(300)
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Orders</title>{snippet}
<style>body {{ font: 13px Arial, sans-serif; }} td {{ padding: 2px 6px; border-bottom: 1px solid #ddd; }}</style></head>
<body><h1>New purchase order</h1>
<form method="post" action="/order"><table>
<tr><td><label for="vendor">Vendor</label></td><td><input id="vendor" name="vendor"></td></tr>
<tr><td><label for="amount">Amount</label></td><td><input id="amount" name="amount"></td></tr>
{fields}
</table><button type="submit">Save</button></form>
<h2>Open orders</h2><table>{rows}</table></body></html>"""


class Site:
    """The benchmark's page, with and without the runtime's tag, and the runtime endpoints, on 127.0.0.1."""

    def __init__(self, rules_dir: Path, guides: str) -> None:
        path = rules_dir / "bench.yaml"
        path.write_text("app: bench\nguides:" + (guides or " []\n"), encoding="utf-8")
        ruleset = load_rule_paths([path])
        self.assets = RuntimeAssets()
        self.pages = RulesetPages(lambda: ruleset)
        self.events: list[Event] = []
        self.endpoints = RuntimeEndpoints(
            PREFIX, resolve=self.resolve, page_config=self.pages.page_config, submit=self.submit,
            state=MemoryStateStore(), is_admin=lambda request: False, assets=self.assets,
        )
        self.handlers: dict[str, Any] = {}
        self.endpoints.register(self)
        self.url = ""
        self.runner: web.AppRunner | None = None

    def add(self, name: str, handler: Any) -> None:
        self.handlers[name] = handler

    def add_tree(self, name: str, handler: Any) -> None:
        self.handlers[name + "/"] = handler

    def resolve(self, request: web.Request) -> RequestContext:
        return RequestContext(app="bench", visitor="c-bench")

    def submit(self, event: Event) -> bool:
        self.events.append(event)
        return True

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.path.startswith(PREFIX):
            rest = request.path[len(PREFIX) :]
            handler = self.handlers.get(rest) or self.handlers.get(rest.split("/")[0] + "/")
            if handler is None:
                raise web.HTTPNotFound()
            return await handler(request)  # type: ignore[no-any-return]
        with_runtime = request.path == "/order"
        snippet = ""
        if with_runtime:
            snippet = build_snippet(origin=self.url, prefix=PREFIX, version=self.assets.version, app="bench", nonce=None, xhtml=False).decode()
        return web.Response(text=legacy_page(snippet), content_type="text/html")

    async def start(self) -> None:
        application = web.Application()
        application.router.add_route("*", "/{tail:.*}", self.handle)
        self.runner = web.AppRunner(application, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


async def measure_load(context: BrowserContext, url: str, expect: str | None) -> dict[str, float]:
    """Load `url` in a new tab and return the renderer's main-thread task and script time in ms.

    Nothing of Playwright runs in the page before the metrics are read, because its selector engine
    and polling are scripts on the same main thread. So the load waits a fixed SETTLE_MS, and only
    then does a check confirm that the runtime shows the `expect` selector in its shadow root.
    Raises RuntimeError if it does not.
    """
    page = await context.new_page()
    try:
        session = await context.new_cdp_session(page)
        await session.send("Performance.enable", {"timeDomain": "threadTicks"})
        await page.goto(url, wait_until="load", timeout=15000)
        await asyncio.sleep(SETTLE_MS / 1000)
        metrics = {item["name"]: item["value"] for item in (await session.send("Performance.getMetrics"))["metrics"]}
        if expect is not None:
            shown = await page.evaluate(
                "(selector) => { const host = document.querySelector('guidegate-ui');"
                " return Boolean(host && host.shadowRoot.querySelector(selector)); }",
                expect,
            )
            if not shown:
                raise RuntimeError(f"the runtime showed no {expect} on {url} within {SETTLE_MS} ms")
        return {"task_ms": metrics["TaskDuration"] * 1000, "script_ms": metrics["ScriptDuration"] * 1000}
    finally:
        await page.close()


async def measure_scenario(browser: Browser, guides: str, expect: str, loads: int) -> dict[str, float]:
    """Alternate `loads` loads of the page without and with the runtime; return the medians in ms."""
    with tempfile.TemporaryDirectory(prefix="guidegate-bench-runtime-") as folder:
        site = Site(Path(folder), guides)
        await site.start()
        context = await browser.new_context(viewport={"width": 1200, "height": 800})
        try:
            plain_url, guided_url = f"{site.url}/plain", f"{site.url}/order"
            # Warm-up loads fill the HTTP cache and the browser's code caches for both pages.
            for _ in range(2):
                await measure_load(context, plain_url, None)
                await measure_load(context, guided_url, expect)
            plain: list[dict[str, float]] = []
            guided: list[dict[str, float]] = []
            for _ in range(loads):
                plain.append(await measure_load(context, plain_url, None))
                guided.append(await measure_load(context, guided_url, expect))
        finally:
            await context.close()
            await site.stop()

    def median(samples: list[dict[str, float]], key: str) -> float:
        return statistics.median(sample[key] for sample in samples)

    return {
        "plain_task_ms": round(median(plain, "task_ms"), 1),
        "guided_task_ms": round(median(guided, "task_ms"), 1),
        "added_task_ms": round(median(guided, "task_ms") - median(plain, "task_ms"), 1),
        "added_script_ms": round(median(guided, "script_ms") - median(plain, "script_ms"), 1),
    }


async def measure(loads: int) -> dict[str, Any]:
    """Measure every scenario with one browser, and the runtime's gzipped size."""
    assets = RuntimeAssets()
    figures: dict[str, Any] = {}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            figures["chromium"] = browser.version
            for name, (guides, expect) in SCENARIOS.items():
                for key, value in (await measure_scenario(browser, guides, expect, loads)).items():
                    figures[f"{name}_{key}"] = value
        finally:
            await browser.close()

    js = len(assets.files["guidegate.js"].gzipped)
    css = len(assets.files["guidegate.css"].gzipped)
    worst = max(figures[f"{name}_added_task_ms"] for name in SCENARIOS)
    figures.update(
        runtime_version=assets.version,
        js_gzip_bytes=js,
        css_gzip_bytes=css,
        gzip_bytes_total=js + css,
        gzip_budget_bytes=BUDGET_BYTES,
        size_within_budget=js + css < BUDGET_BYTES,
        loads=loads,
        target_ms=TARGET_MS,
        worst_added_task_ms=worst,
        main_thread_within_target=worst < TARGET_MS,
    )
    return figures


def run(quick: bool = False) -> dict[str, Any]:
    """Measure the runtime (5 load pairs per scenario in quick mode, 15 otherwise) and return the figures."""
    return asyncio.run(measure(5 if quick else 15))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--loads", type=int, default=15, help="load pairs (page without and with the runtime) per scenario; default 15")
    arguments = parser.parse_args(argv)
    figures = asyncio.run(measure(max(1, arguments.loads)))
    print(json.dumps(figures, indent=2))
    return 0 if figures["size_within_budget"] and figures["main_thread_within_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
