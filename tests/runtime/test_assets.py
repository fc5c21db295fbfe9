"""The runtime files under the prefix: versioned URLs, year-long caching, gzip, conditional requests, size budget."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import aiohttp
import pytest
from multidict import CIMultiDict

from proxy.runtime import RuntimeAssets, runtime_version
from proxy.runtime.assets import INJECTABLES, accepts_gzip

from .site import TestSite

ON_SESSION_LOOP = pytest.mark.asyncio(loop_scope="session")

IMMUTABLE = "public, max-age=31536000, immutable"
BUDGET_BYTES = 25 * 1024


async def fetch(url: str, method: str = "GET", **headers: str) -> tuple[int, CIMultiDict[str], bytes]:
    async with aiohttp.ClientSession(auto_decompress=False) as client:
        async with client.request(method, url, headers=headers, allow_redirects=False) as response:
            return response.status, response.headers.copy(), await response.read()


def asset_url(site: TestSite, name: str, version: str | None = None) -> str:
    return f"{site.url}/__guidegate/runtime/{version or site.endpoints.version}/{name}"


@ON_SESSION_LOOP
@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        pytest.param("guidegate.js", "text/javascript; charset=utf-8", id="script"),
        pytest.param("guidegate.css", "text/css; charset=utf-8", id="stylesheet"),
    ],
)
async def test_asset_gzip_and_caching(site: TestSite, name: str, content_type: str) -> None:
    status, headers, body = await fetch(asset_url(site, name), **{"Accept-Encoding": "gzip, deflate, br"})

    assert status == 200
    assert headers["Content-Type"] == content_type
    assert headers["Cache-Control"] == IMMUTABLE
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Vary"] == "Accept-Encoding"
    assert headers["ETag"] == f'"{site.endpoints.version}-{name}-gz"'
    assert gzip.decompress(body) == (INJECTABLES / name).read_bytes()


@ON_SESSION_LOOP
async def test_asset_identity(site: TestSite) -> None:
    status, headers, body = await fetch(asset_url(site, "guidegate.js"), **{"Accept-Encoding": "gzip;q=0, *"})

    assert status == 200
    assert "Content-Encoding" not in headers
    assert headers["Content-Length"] == str(len(body))
    assert body == (INJECTABLES / "guidegate.js").read_bytes()


@ON_SESSION_LOOP
async def test_asset_not_modified(site: TestSite) -> None:
    etag = f'"{site.endpoints.version}-guidegate.css"'
    status, headers, body = await fetch(asset_url(site, "guidegate.css"), **{"If-None-Match": etag, "Accept-Encoding": "identity"})

    assert status == 304
    assert headers["ETag"] == etag
    assert headers["Cache-Control"] == IMMUTABLE
    assert body == b""


@ON_SESSION_LOOP
async def test_asset_head(site: TestSite) -> None:
    status, headers, body = await fetch(asset_url(site, "guidegate.js"), "HEAD", **{"Accept-Encoding": "identity"})

    assert status == 200
    assert headers["Content-Length"] == str(len((INJECTABLES / "guidegate.js").read_bytes()))
    assert body == b""


@ON_SESSION_LOOP
async def test_asset_other_version_redirects(site: TestSite) -> None:
    status, headers, _ = await fetch(asset_url(site, "guidegate.js", "0.0.9-0123456789"))

    assert status == 307
    assert headers["Location"] == f"/__guidegate/runtime/{site.endpoints.version}/guidegate.js"
    assert headers["Cache-Control"] == "no-cache"


@ON_SESSION_LOOP
@pytest.mark.parametrize(
    ("path", "method", "status"),
    [
        pytest.param("runtime/{version}/other.js", "GET", 404, id="unknown-file"),
        pytest.param("runtime/{version}/", "GET", 404, id="no-file"),
        pytest.param("runtime/..%2F/guidegate.js", "GET", 404, id="bad-version"),
        pytest.param("runtime/{version}/guidegate.js", "POST", 405, id="post"),
    ],
)
async def test_asset_rejects(site: TestSite, path: str, method: str, status: int) -> None:
    url = f"{site.url}/__guidegate/" + path.format(version=site.endpoints.version)
    got, headers, _ = await fetch(url, method)

    assert got == status
    if status == 405:
        assert headers["Allow"] == "GET,HEAD"


def test_runtime_version_shape() -> None:
    version = runtime_version()

    assert re.fullmatch(r"0\.1\.0-[0-9a-f]{10}", version)
    assert version == RuntimeAssets(INJECTABLES).version


def test_version_follows_content(tmp_path: Path) -> None:
    for name in ("guidegate.js", "guidegate.css"):
        (tmp_path / name).write_bytes((INJECTABLES / name).read_bytes())
    same = RuntimeAssets(tmp_path).version
    (tmp_path / "guidegate.css").write_bytes(b"/* changed */\n" + (INJECTABLES / "guidegate.css").read_bytes())

    assert same == runtime_version()
    assert RuntimeAssets(tmp_path).version != same


def test_runtime_size_budget() -> None:
    assets = RuntimeAssets(INJECTABLES)
    served = sum(len(asset.gzipped) for asset in assets.files.values())

    assert served < BUDGET_BYTES


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        pytest.param("gzip", True, id="gzip"),
        pytest.param("deflate, gzip;q=0.5", True, id="with-quality"),
        pytest.param("GZIP", True, id="upper-case"),
        pytest.param("*", True, id="star"),
        pytest.param("gzip;q=0, *", False, id="gzip-refused-over-star"),
        pytest.param("*;q=0", False, id="star-refused"),
        pytest.param("br, deflate", False, id="others"),
        pytest.param("", False, id="empty"),
        pytest.param("gzip;q=abc", False, id="bad-quality"),
    ],
)
def test_accepts_gzip(header: str, accepted: bool) -> None:
    assert accepts_gzip(header) is accepted
