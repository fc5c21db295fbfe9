"""The runtime's script and stylesheet: read once, versioned by content hash, pre-compressed, served for a year."""

from __future__ import annotations

import functools
import gzip
import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from proxy import __version__

logger = logging.getLogger(__name__)

INJECTABLES = (Path(__file__).parents[1] / "bundled" / "injectables").resolve()
"""Folder of the browser runtime: plain JavaScript and CSS, served as written.

In a source checkout proxy/bundled/injectables is a link to injectables/, which this resolves to.
An installed wheel carries a copy of the files there instead.
"""

ASSET_TYPES = {
    "guidegate.js": "text/javascript; charset=utf-8",
    "guidegate.css": "text/css; charset=utf-8",
}
"""The files served under `{prefix}runtime/{version}/`, with their Content-Type."""

IMMUTABLE = "public, max-age=31536000, immutable"
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$")
_GZIP_TOKEN = re.compile(r"^\s*(gzip|\*)\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Asset:
    """One served file: its bytes, their gzip copy and the strong ETag of each."""

    content_type: str
    body: bytes
    gzipped: bytes
    etag: str


class RuntimeAssets:
    """The runtime files of one folder, read and compressed once when built.

    `version` is the package version and a short hash of the files' names and bytes, such as
    `0.1.0-3f2a9c1d7e`, so any change to a file yields new URLs that browsers fetch afresh, while
    an unchanged runtime stays cached for a year. Raises FileNotFoundError when a file is missing.
    """

    def __init__(self, directory: Path = INJECTABLES) -> None:
        digest = hashlib.sha256()
        contents: dict[str, bytes] = {}
        for name in sorted(ASSET_TYPES):
            data = (directory / name).read_bytes()
            contents[name] = data
            digest.update(name.encode("ascii") + b"\0" + len(data).to_bytes(8, "big") + data)
        self.directory = directory
        self.version = f"{__version__}-{digest.hexdigest()[:10]}"
        self.files: dict[str, Asset] = {}
        for name, data in contents.items():
            # mtime=0 keeps the compressed bytes, and so their ETag, the same on every start.
            compressed = gzip.compress(data, compresslevel=9, mtime=0)
            self.files[name] = Asset(ASSET_TYPES[name], data, compressed, f'"{self.version}-{name}"')
        logger.info("runtime %s loaded from %s (%s)", self.version, directory, self.sizes_text())

    def sizes_text(self) -> str:
        """Describe each file's size as served plain and gzipped, for logs and reports."""
        return ", ".join(f"{name} {len(asset.body)} B, gzip {len(asset.gzipped)} B" for name, asset in self.files.items())

    def path(self, prefix: str, name: str) -> str:
        """Return the URL path of a file of this version under `prefix`."""
        return f"{prefix}runtime/{self.version}/{name}"

    def response(self, request: web.Request, prefix: str) -> web.StreamResponse:
        """Serve GET or HEAD `{prefix}runtime/{version}/{name}`.

        Another well-formed version is redirected (307, not cached) to the current one, so a page
        cached before an upgrade still gets a working runtime. Unknown files are 404.
        """
        if request.method not in ("GET", "HEAD"):
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD"], text="Only GET and HEAD are allowed here.\n")
        rest = request.path[len(prefix) + len("runtime/") :]
        version, _, name = rest.partition("/")
        asset = self.files.get(name)
        if asset is None or not _VERSION.match(version):
            raise web.HTTPNotFound(text=f"No Guidegate runtime file at {request.path}.\n")
        if version != self.version:
            return web.Response(
                status=307,
                headers={"Location": self.path(prefix, name), "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
            )

        compressed = accepts_gzip(request.headers.get("Accept-Encoding", ""))
        etag = asset.etag[:-1] + '-gz"' if compressed else asset.etag
        headers = {
            "Content-Type": asset.content_type,
            "Cache-Control": IMMUTABLE,
            "X-Content-Type-Options": "nosniff",
            "Cross-Origin-Resource-Policy": "same-origin",
            "Vary": "Accept-Encoding",
            "ETag": etag,
        }
        if etag in _etags(request.headers.get("If-None-Match", "")):
            return web.Response(status=304, headers={key: headers[key] for key in ("Cache-Control", "Vary", "ETag")})
        if compressed:
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=asset.gzipped if compressed else asset.body, headers=headers)


def accepts_gzip(header: str) -> bool:
    """Tell whether an Accept-Encoding header value accepts gzip with a q above 0.

    An explicit `gzip` entry decides; without one, `*` does (RFC 9110, section 12.5.3).
    """
    qualities: dict[str, float] = {}
    for token in header.split(","):
        match = _GZIP_TOKEN.match(token)
        if match is None:
            continue
        try:
            quality = float(match.group(2)) if match.group(2) is not None else 1.0
        except ValueError:
            continue
        qualities[match.group(1).lower()] = quality
    quality = qualities.get("gzip", qualities.get("*", 0.0))
    return quality > 0


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


@functools.cache
def default_assets() -> RuntimeAssets:
    """Return the assets of the bundled injectables/ folder, loaded on first use in this process."""
    return RuntimeAssets(INJECTABLES)


def runtime_version() -> str:
    """Return the version string that the snippet puts in the runtime's URL, such as `0.1.0-3f2a9c1d7e`."""
    return default_assets().version
