"""`guidegate demo` as a real process: its banner, the demo through the proxy, the dashboard link, stopping."""

from __future__ import annotations

import asyncio
import re
import signal
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from proxy.cli import main
from proxy.commands.demo import DEMO_RULES

from .demo_process import DemoProcess, running_demo

pytestmark = pytest.mark.asyncio(loop_scope="module")

SNIPPET = re.compile(
    rb'<script src="http://127\.0\.0\.1:[0-9]+/__guidegate/runtime/[^"/]+/guidegate\.js" defer="defer" '
    rb'data-guidegate-app="demo"></script>'
)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def demo(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DemoProcess]:
    async with running_demo(tmp_path_factory.mktemp("demo-command")) as running:
        yield running


def client() -> aiohttp.ClientSession:
    # unsafe=True: the default cookie jar ignores cookies set by an IP address such as 127.0.0.1.
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=aiohttp.ClientTimeout(total=10))


async def test_banner_lines(demo: DemoProcess) -> None:
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", demo.token)
    assert demo.lines == [
        "",
        "Guidegate demo: Procurement Desk, a legacy purchasing app, with Guidegate in front of it.",
        "",
        f"  Open the app:    {demo.url}/",
        "  Sign in as (user / password):",
        "    clerk / clerk        Purchasing clerk (role clerk)",
        "    manager / manager    Purchasing manager (role manager)",
        "    approver / approver  Budget approver (role approver)",
        f"  Dashboard:       {demo.url}/__guidegate/admin/?token={demo.token}",
        "",
        f"  Rules:           {DEMO_RULES} (changes apply within a second)",
        f"  Data:            {demo.data} (kept after exit)",
        f"  Report:          guidegate report --config {demo.data / 'config.yaml'}",
        f"  App without Guidegate: http://127.0.0.1:{demo.app_port}/",
        "",
        "Press Ctrl-C to stop.",
    ]


@pytest.mark.parametrize(
    ("path", "destination"),
    [
        pytest.param("/", "document", id="frameset"),
        pytest.param("/nav", "frame", id="nav-frame"),
        pytest.param("/home", "frame", id="main-frame"),
        pytest.param("/vendors", "frame", id="windows-1252-frame"),
        pytest.param("/po/new", "frame", id="form-frame"),
    ],
)
async def test_frames_get_runtime(demo: DemoProcess, path: str, destination: str) -> None:
    headers = {"Sec-Fetch-Dest": destination, "Accept-Encoding": "gzip"}
    async with client() as session:
        async with session.post(
            demo.url + "/login", data={"username": "clerk", "password": "clerk"}, allow_redirects=False
        ) as signed_in:
            assert signed_in.status == 302
        async with session.get(demo.url + path, headers=headers) as proxied:
            assert proxied.status == 200
            assert proxied.headers["Content-Encoding"] == "gzip"
            through_proxy = await proxied.read()

        async with session.post(
            f"http://127.0.0.1:{demo.app_port}/login", data={"username": "clerk", "password": "clerk"}, allow_redirects=False
        ) as direct_sign_in:
            assert direct_sign_in.status == 302
        async with session.get(f"http://127.0.0.1:{demo.app_port}{path}", headers=headers) as direct:
            assert direct.status == 200
            from_app = await direct.read()

    assert len(SNIPPET.findall(through_proxy)) == 1
    assert SNIPPET.sub(b"", through_proxy) == from_app


async def test_runtime_script_served(demo: DemoProcess) -> None:
    async with client() as session:
        async with session.get(demo.url + "/login", headers={"Sec-Fetch-Dest": "document"}) as page:
            body = await page.read()
        found = SNIPPET.search(body)
        assert found is not None
        script_url = re.search(rb'src="([^"]+)"', found.group(0))
        assert script_url is not None
        async with session.get(script_url.group(1).decode()) as script:
            assert script.status == 200
            assert script.headers["Content-Type"] == "text/javascript; charset=utf-8"
            assert (await script.read()).startswith(b"/* Guidegate guide runtime.")


@pytest.mark.parametrize(
    ("query", "status"),
    [
        pytest.param("", 401, id="no-token"),
        pytest.param("?token=wrong", 403, id="wrong-token"),
    ],
)
async def test_dashboard_rejects(demo: DemoProcess, query: str, status: int) -> None:
    async with client() as session:
        async with session.get(f"{demo.url}/__guidegate/admin/{query}", allow_redirects=False) as response:
            assert response.status == status


async def test_dashboard_link_opens(demo: DemoProcess) -> None:
    async with client() as session:
        async with session.get(f"{demo.url}/__guidegate/admin/?token={demo.token}", allow_redirects=False) as link:
            assert link.status == 302
            assert link.headers["Location"] == "/__guidegate/admin/"
        async with session.get(f"{demo.url}/__guidegate/admin/") as page:
            assert page.status == 200
            assert "<h1>Adoption report: demo</h1>" in await page.text()


async def test_config_passes_check(demo: DemoProcess, capsys: pytest.CaptureFixture[str]) -> None:
    assert stat.S_IMODE(demo.config.stat().st_mode) == 0o600

    assert main(["check", "--config", str(demo.config)]) == 0

    assert capsys.readouterr().out == (
        f"{demo.config}: OK\nrules: OK, 10 guides, 4 workflows, 4 features in 7 files (apps: demo)\n"
    )


async def test_rules_pass_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(DEMO_RULES)]) == 0

    assert capsys.readouterr().out == "rules: OK, 10 guides, 4 workflows, 4 features in 7 files (apps: demo)\n"


@pytest.mark.parametrize("signum", [pytest.param(signal.SIGINT, id="SIGINT"), pytest.param(signal.SIGTERM, id="SIGTERM")])
async def test_signal_stops_both(tmp_path: Path, signum: int) -> None:
    async with running_demo(tmp_path) as demo:
        assert await demo.stop(signum) == 0

        for port in (demo.port, demo.app_port):
            with pytest.raises(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
        log = demo.log()
        assert "proxy.server: stopped" in log
        assert f"demo app at http://127.0.0.1:{demo.app_port} stopped" in log
