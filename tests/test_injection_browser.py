"""HTML injection seen from headless Chromium: hard legacy pages loaded through the full proxy and directly."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Frame, Page, Request, Response
from prometheus_client.parser import text_string_to_metric_families

from proxy.config import load_config
from proxy.server import create_runner
from tests.browser import chromium
from tests.legacy_site import LATIN_TEXT, LegacyPage, LegacySite, Trap, legacy_pages

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.browser]

APP = "legacy"
CONFIG_PATH = "/__guidegate/config"
RUNTIME_TAG = re.compile(rb'<script [^>]*data-guidegate-app="legacy"[^>]*></script>')
CHARSET_META = re.compile(rb"<meta[^>]*charset[^>]*>", re.IGNORECASE)
PRESCAN_BYTES = 1024

SNAPSHOT = """() => {
  const root = document.documentElement.cloneNode(true);
  for (const host of root.querySelectorAll('guidegate-ui')) host.remove();
  const tags = [...document.querySelectorAll('script[data-guidegate-app]')];
  const paragraph = document.querySelector('p');
  return {
    text: root.textContent,
    innerText: document.body ? document.body.innerText : null,
    title: document.title,
    paragraph: paragraph ? paragraph.textContent : null,
    characterSet: document.characterSet,
    compatMode: document.compatMode,
    contentType: document.contentType,
    parserErrors: document.getElementsByTagNameNS('*', 'parsererror').length,
    pageScript: window.pageScript === undefined ? null : window.pageScript,
    runtime: typeof window.Guidegate,
    tags: tags.length,
    tagParent: tags.length ? tags[0].parentNode.localName : null,
    tagOrigin: tags.length ? new URL(tags[0].src).origin : null,
    tagNonce: tags.length ? tags[0].nonce : null,
  };
}"""
"""The page's own text and parse state, then the runtime's tags and whether it started, for one document.

The runtime's UI host (`guidegate-ui`) is removed from the copy whose text is compared; its shadow
root contains the UI text, which textContent never includes anyway."""

PAGE_FIELDS = ("text", "innerText", "title", "paragraph", "characterSet", "compatMode", "contentType", "parserErrors", "pageScript")
"""Snapshot fields that describe the page itself, which must be the same through the proxy as directly."""


async def serve(server: web.Application | web.BaseRunner) -> tuple[web.BaseRunner, str]:
    """Start an aiohttp application, or a runner, on a free loopback port; return the runner and base URL.

    The shared start_upstream and start_proxy fixtures run on each test's own event loop, while the
    browser here lives on the module's loop, which every server of these tests must share.
    """
    runner = web.AppRunner(server, access_log=None) if isinstance(server, web.Application) else server
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


@dataclass
class Stage:
    """A legacy upstream, a trap server that no page may reach, and the full proxy in front of the upstream."""

    site: LegacySite
    trap: Trap
    upstream: str
    proxy: str

    async def injection_counts(self) -> tuple[int, dict[str, int]]:
        """Return the legacy app's injection count and its skip counts by reason, read from the metrics endpoint."""
        async with aiohttp.ClientSession() as session, session.get(f"{self.proxy}/__guidegate/metrics") as response:
            text = await response.text()
        injected = 0
        skips: dict[str, int] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.labels.get("app") != APP:
                    continue
                if sample.name == "guidegate_injections_total":
                    injected = int(sample.value)
                elif sample.name == "guidegate_injection_skips_total":
                    skips[sample.labels["reason"]] = int(sample.value)
        return injected, skips


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


@pytest_asyncio.fixture(loop_scope="module")
async def stage(tmp_path: Path) -> AsyncIterator[Stage]:
    """Start the trap, the upstream and a fresh proxy (so its counters start at zero) for one test."""
    trap = Trap()
    runners: list[web.BaseRunner] = []
    try:
        trap_runner, trap_url = await serve(trap.application())
        runners.append(trap_runner)
        site = LegacySite(legacy_pages(int(trap_url.rsplit(":", 1)[1])))
        upstream_runner, upstream = await serve(site.application())
        runners.append(upstream_runner)
        config_path = tmp_path / "config.yaml"
        config_path.write_text(f"apps:\n  - name: {APP}\n    upstream: {upstream}\n", encoding="utf-8")
        proxy_runner, proxy = await serve(create_runner(load_config(config_path, environ={})))
        runners.append(proxy_runner)
        yield Stage(site, trap, upstream, proxy)
    finally:
        for runner in reversed(runners):
            await runner.cleanup()


@pytest_asyncio.fixture(loop_scope="module")
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh browser context. Its favicon requests are aborted, so they reach neither the proxy nor its counters."""
    opened = await browser.new_context()
    await opened.route("**/favicon.ico", lambda route: route.abort())
    yield opened
    await opened.close()


@dataclass
class Visit:
    """One page load, with the requests, document responses and errors that the browser reported."""

    page: Page
    requests: list[Request] = field(default_factory=list)
    documents: dict[str, Response] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def config_fetches(self) -> Counter[str]:
        """Count the runtime's page config fetches per document path: one for each runtime that started."""
        counts: Counter[str] = Counter()
        for request in self.requests:
            if urlsplit(request.url).path == CONFIG_PATH:
                counts[urlsplit(request.frame.url).path] += 1
        return counts

    def on_response(self, response: Response) -> None:
        if response.request.resource_type == "document":
            self.documents[urlsplit(response.url).path] = response


async def visit(context: BrowserContext, url: str) -> Visit:
    """Open `url` in a new page of `context` and wait for its load event, which waits for every frame."""
    page = await context.new_page()
    page.set_default_timeout(8000)
    loaded = Visit(page)
    page.on("request", lambda request: loaded.requests.append(request))
    page.on("response", loaded.on_response)
    page.on("pageerror", lambda error: loaded.errors.append(str(error)))
    page.on("console", lambda message: loaded.errors.append(message.text) if message.type == "error" else None)
    await page.goto(url)
    return loaded


async def started(frame: Frame) -> None:
    """Wait until the runtime of `frame` has defined window.Guidegate and finished starting."""
    await frame.wait_for_function("() => window.Guidegate !== undefined")
    await frame.evaluate("() => window.Guidegate.ready")


async def snapshots(page: Page, *, runtime: bool) -> dict[str, dict[str, Any]]:
    """Snapshot every document of the page (main document and frames) by path; wait for the runtime first when expected."""
    found: dict[str, dict[str, Any]] = {}
    for frame in page.frames:
        if runtime:
            await started(frame)
        found[urlsplit(frame.url).path] = await frame.evaluate(SNAPSHOT)
    return found


STYLESHEET_STATE = """() => {
  const host = document.querySelector('guidegate-ui');
  if (!host) return 'no-ui';
  const link = host.shadowRoot.querySelector('link[rel=stylesheet]');
  try {
    return link && link.sheet && link.sheet.cssRules.length > 0 ? 'applied' : 'pending';
  } catch (error) {
    return 'blocked';  // a sheet that Content-Security-Policy blocked has no readable rules
  }
}"""


async def stylesheet_applied(page: Page, timeout: float = 15.0) -> bool:
    """Wait until the runtime's UI host, in whichever document shows it, has its stylesheet applied."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        for frame in page.frames:
            if await frame.evaluate(STYLESHEET_STATE) == "applied":
                return True
        await asyncio.sleep(0.05)
    return False


async def stylesheet_states(page: Page) -> dict[str, str]:
    """Return each frame's stylesheet state by URL, for the message of a failed check."""
    return {frame.url: await frame.evaluate(STYLESHEET_STATE) for frame in page.frames}


def page_view(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {name: snapshot[name] for name in PAGE_FIELDS}


FRAMES = ("/frames/index.html", "/frames/nav.html", "/frames/content.html")
PORTAL = ("/portal/index.html", "/portal/inner.html")

INJECTED_CASES = [
    pytest.param(FRAMES, (), {}, {}, id="frameset"),
    pytest.param(FRAMES, FRAMES, {}, {}, id="frameset-gzip"),
    pytest.param(PORTAL, (), {}, {}, id="iframe"),
    pytest.param(
        ("/latin/index.html",),
        (),
        {"characterSet": "windows-1252", "title": "Bestellübersicht – Café", "paragraph": LATIN_TEXT},
        {},
        id="windows-1252-meta-at-900",
    ),
    pytest.param(
        ("/latin/index.html",),
        ("/latin/index.html",),
        {"characterSet": "windows-1252", "paragraph": LATIN_TEXT},
        {},
        id="windows-1252-gzip",
    ),
    pytest.param(("/xhtml/index.xhtml",), (), {"contentType": "application/xhtml+xml"}, {}, id="xhtml"),
    pytest.param(("/xhtml/index.xhtml",), ("/xhtml/index.xhtml",), {"contentType": "application/xhtml+xml"}, {}, id="xhtml-gzip"),
    pytest.param(("/bare/report.html",), (), {"compatMode": "BackCompat"}, {}, id="no-html-head-body"),
    pytest.param(("/csp/self.html",), (), {"pageScript": "ran"}, {"not_html": 1}, id="csp-self"),
    pytest.param(("/csp/nonce.html",), (), {"pageScript": "ran", "tagNonce": "abc"}, {}, id="csp-nonce"),
    pytest.param(("/csp/default-self.html",), (), {"pageScript": "ran"}, {"not_html": 1}, id="csp-default-self"),
    pytest.param(("/csp/nonce-style.html",), (), {"pageScript": "ran", "tagNonce": "abc"}, {}, id="csp-nonce-style"),
    pytest.param(("/csp/strict-dynamic.html",), (), {"pageScript": "ran", "tagNonce": "abc"}, {}, id="csp-strict-dynamic"),
    pytest.param(("/base/index.html",), (), {}, {}, id="base-href-elsewhere"),
]
"""Documents of a page (the first is the one navigated to), paths served gzip-compressed, exact snapshot
values expected in the main document, and the skip counts expected besides the injected documents."""


@pytest.mark.parametrize(("documents", "gzip_paths", "expected", "skips"), INJECTED_CASES)
async def test_runtime_once_per_document(
    stage: Stage,
    context: BrowserContext,
    documents: tuple[str, ...],
    gzip_paths: tuple[str, ...],
    expected: dict[str, Any],
    skips: dict[str, int],
) -> None:
    stage.site.gzip_paths.update(gzip_paths)

    proxied = await visit(context, stage.proxy + documents[0])
    through_proxy = await snapshots(proxied.page, runtime=True)
    direct = await snapshots((await visit(context, stage.upstream + documents[0])).page, runtime=False)

    assert sorted(through_proxy) == sorted(documents)
    assert sorted(direct) == sorted(documents)
    for document in documents:
        seen = through_proxy[document]
        assert page_view(seen) == page_view(direct[document]), document
        assert seen["parserErrors"] == 0, document
        assert seen["runtime"] == "object", document
        assert seen["tags"] == 1, document
        assert seen["tagParent"] == "head", document
        assert seen["tagOrigin"] == stage.proxy, document
        assert direct[document]["runtime"] == "undefined", document
    main = through_proxy[documents[0]]
    for name, value in expected.items():
        assert main[name] == value, name
    assert await stylesheet_applied(proxied.page), await stylesheet_states(proxied.page)
    assert sorted(proxied.documents) == sorted(documents)
    for document in documents:
        await check_received(proxied.documents[document], stage.site.pages[document], document in gzip_paths)
    assert proxied.config_fetches() == Counter(documents)
    assert {urlsplit(request.url).netloc for request in proxied.requests} == {urlsplit(stage.proxy).netloc}
    assert proxied.errors == []
    assert stage.trap.requests == []
    assert await stage.injection_counts() == (len(documents), skips)


async def check_received(response: Response, upstream: LegacyPage, compressed: bool) -> None:
    """Check that a document came with one runtime tag and every other byte as the upstream wrote it.

    Chromium hands out a text body converted to UTF-8; encoding it back with the page's codec
    gives the bytes it received, because these pages' codecs map bytes to text one to one.
    """
    received = (await response.body()).decode("utf-8").encode(upstream.codec)
    assert len(RUNTIME_TAG.findall(received)) == 1, response.url
    assert RUNTIME_TAG.sub(b"", received) == upstream.body, response.url
    coding = (await response.all_headers()).get("content-encoding")
    assert coding == ("gzip" if compressed else None), response.url
    # Chromium (156) finds a <meta> charset past byte 1024 as long as it is in the head, so only
    # the bytes show whether the tag pushed it out of the 1024 bytes that the standard prescans.
    declared = CHARSET_META.search(upstream.body)
    if declared is not None and declared.end() <= PRESCAN_BYTES:
        moved = CHARSET_META.search(received)
        assert moved is not None, response.url
        assert moved.end() <= PRESCAN_BYTES, response.url


async def test_csp_none_skipped(stage: Stage, context: BrowserContext) -> None:
    proxied = await visit(context, stage.proxy + "/csp/none.html")
    through_proxy = await snapshots(proxied.page, runtime=False)
    direct = await snapshots((await visit(context, stage.upstream + "/csp/none.html")).page, runtime=False)

    assert page_view(through_proxy["/csp/none.html"]) == page_view(direct["/csp/none.html"])
    assert through_proxy["/csp/none.html"]["runtime"] == "undefined"
    assert through_proxy["/csp/none.html"]["tags"] == 0
    assert await proxied.documents["/csp/none.html"].body() == stage.site.pages["/csp/none.html"].body
    assert proxied.config_fetches() == Counter()
    assert proxied.errors == []
    assert await stage.injection_counts() == (0, {"csp_blocks": 1})


async def test_meta_csp_after_tag(stage: Stage, context: BrowserContext) -> None:
    proxied = await visit(context, stage.proxy + "/csp/meta-none.html")
    seen = (await snapshots(proxied.page, runtime=False))["/csp/meta-none.html"]

    assert seen["tags"] == 0
    assert await stage.injection_counts() == (0, {"csp_blocks": 1})


FETCH_TEXT = "(url) => fetch(url).then((response) => response.text())"
XHR_TEXT = """(url) => new Promise((resolve, reject) => {
  const request = new XMLHttpRequest();
  request.open('GET', url);
  request.onload = () => resolve(request.responseText);
  request.onerror = () => reject(new Error('XHR failed'));
  request.send();
})"""


@pytest.mark.parametrize(
    ("script", "path", "gzip_paths"),
    [
        pytest.param(FETCH_TEXT, "/fragment.html", (), id="fetch-fragment"),
        pytest.param(XHR_TEXT, "/fragment.html", (), id="xhr-fragment"),
        pytest.param(FETCH_TEXT, "/portal/inner.html", (), id="fetch-whole-document"),
        pytest.param(XHR_TEXT, "/frames/content.html", ("/frames/content.html",), id="xhr-whole-document-gzip"),
    ],
)
async def test_script_fetch_not_injected(
    stage: Stage, context: BrowserContext, script: str, path: str, gzip_paths: tuple[str, ...]
) -> None:
    stage.site.gzip_paths.update(gzip_paths)
    proxied = await visit(context, stage.proxy + "/bare/report.html")

    fetched = await proxied.page.evaluate(script, path)

    assert fetched == stage.site.pages[path].text
    assert stage.site.requests[-1] == (path, "empty")
    assert await stage.injection_counts() == (1, {"not_navigation": 1})
