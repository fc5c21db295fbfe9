"""The <script> tag spliced into documents, and how to recognise one that is already there."""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass

RUNTIME_MARKER = "data-guidegate-app"
"""Attribute that every snippet carries; a <script> tag with it means the page already loads the runtime."""

RUNTIME_FILE = "guidegate.js"

_XHTML_NAMESPACE = "http://www.w3.org/1999/xhtml"
_MARKER_IN_TAG = re.compile(rb"[\t\n\f\r /]" + RUNTIME_MARKER.encode("ascii") + rb"(?![^\t\n\f\r /=>])", re.IGNORECASE)


@dataclass(frozen=True)
class RuntimeLocation:
    """Where the browser loads the runtime from: the page's own origin and the reserved prefix.

    `origin` is scheme://host[:port] of the page as the browser requested it, `prefix` the reserved path
    (starting and ending with '/'), `version` the runtime build, used in the URL so that it can
    be cached for long.
    """

    origin: str
    prefix: str
    version: str

    @property
    def script_url(self) -> str:
        """Absolute URL of the runtime script; absolute so that a <base href> cannot redirect it."""
        return f"{self.origin}{self.prefix}runtime/{self.version}/{RUNTIME_FILE}"

    @property
    def connect_url(self) -> str:
        """URL prefix the runtime fetches from and posts to (page config, events)."""
        return f"{self.origin}{self.prefix}"

    @property
    def config_url(self) -> str:
        """URL of the per-user page config that the runtime fetches."""
        return f"{self.origin}{self.prefix}config"

    @property
    def style_url(self) -> str:
        """URL prefix the runtime loads its stylesheets from."""
        return f"{self.origin}{self.prefix}runtime/"

    @property
    def stylesheet_url(self) -> str:
        """URL of the runtime's stylesheet."""
        return f"{self.origin}{self.prefix}runtime/{self.version}/guidegate.css"


@functools.lru_cache(maxsize=256)
def build_snippet(*, origin: str, prefix: str, version: str, app: str, nonce: str | None, xhtml: bool) -> bytes:
    """Build the ASCII <script> tag that loads the runtime.

    The tag is the same for every user of a page (the runtime fetches the per-user config from
    `{prefix}config` itself), so a shared cache never hands one user's config to another. Attribute
    values are escaped and non-ASCII characters written as character references, which keeps the
    bytes valid in every ASCII-compatible encoding. With `xhtml` the tag names the XHTML namespace,
    so it stays an XHTML script in a document whose root uses a namespace prefix. Results are
    cached, as most responses ask for the same tag.
    """
    location = RuntimeLocation(origin, prefix, version)
    attributes = [("src", location.script_url), ("defer", "defer"), (RUNTIME_MARKER, app)]
    if nonce is not None:
        attributes.append(("nonce", nonce))
    if xhtml:
        attributes.insert(0, ("xmlns", _XHTML_NAMESPACE))
    written = " ".join(f'{name}="{_escape(value)}"' for name, value in attributes)
    return f"<script {written}></script>".encode("ascii")


def _escape(value: str) -> str:
    return html.escape(value, quote=True).encode("ascii", "xmlcharrefreplace").decode("ascii")


def is_runtime_tag(start_tag: bytes) -> bool:
    """Tell whether a <script ...> start tag (the bytes from '<' to '>') carries the runtime marker."""
    return _MARKER_IN_TAG.search(start_tag) is not None
