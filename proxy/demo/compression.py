"""Gzip compression of HTML responses for clients that accept it, as Apache's mod_deflate does."""

from __future__ import annotations

import gzip

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler


def accepts_gzip(accept_encoding: str) -> bool:
    """Return whether an Accept-Encoding header value allows gzip (RFC 9110, section 12.5.3).

    An explicit `gzip` or `x-gzip` entry decides by its q-value; otherwise a `*` entry does;
    with neither, gzip is not accepted.
    """
    explicit: float | None = None
    wildcard: float | None = None
    for entry in accept_encoding.split(","):
        coding, _, parameters = entry.partition(";")
        coding = coding.strip().lower()
        quality = _quality(parameters)
        if coding in ("gzip", "x-gzip"):
            explicit = quality if explicit is None else max(explicit, quality)
        elif coding == "*":
            wildcard = quality
    if explicit is not None:
        return explicit > 0
    return wildcard is not None and wildcard > 0


def _quality(parameters: str) -> float:
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value.strip())
            except ValueError:
                return 0.0
    return 1.0


@web.middleware
async def compress_html(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Gzip every HTML response body when the client accepts gzip, and add `Vary: Accept-Encoding`.

    The body is compressed whole with a zero timestamp, so equal pages give equal bytes, and
    aiohttp sets Content-Length from the compressed size.
    """
    response = await handler(request)
    if not isinstance(response, web.Response) or response.content_type != "text/html":
        return response
    body = response.body
    if response.status in (204, 304) or not isinstance(body, bytes) or hdrs.CONTENT_ENCODING in response.headers:
        return response

    vary = response.headers.get(hdrs.VARY)
    response.headers[hdrs.VARY] = "Accept-Encoding" if not vary else f"{vary}, Accept-Encoding"
    if accepts_gzip(request.headers.get(hdrs.ACCEPT_ENCODING, "")):
        response.body = gzip.compress(body, mtime=0)
        response.headers[hdrs.CONTENT_ENCODING] = "gzip"
    return response
