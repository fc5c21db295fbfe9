"""Small error responses Guidegate sends itself: HTML for browsers, plain text for everyone else."""

from __future__ import annotations

import html

from aiohttp import web

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{status} {title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;margin:3em auto;max-width:40em;padding:0 1em;color:#222}}
code{{background:#f2f2f2;padding:0 .2em}}</style></head>
<body><h1>{status} {title}</h1><p>{detail}</p>{request}</body></html>
"""


def error_response(status: int, title: str, detail: str, accept: str, request_id: str | None = None) -> web.Response:
    """Build an error response; `detail` is plain text and is escaped for HTML."""
    headers = {"Cache-Control": "no-store"}
    if request_id:
        headers["X-Request-Id"] = request_id
    if "text/html" in accept or "application/xhtml+xml" in accept:
        request = f"<p>Request id: <code>{html.escape(request_id)}</code></p>" if request_id else ""
        body = _PAGE.format(status=status, title=html.escape(title), detail=html.escape(detail), request=request)
        return web.Response(status=status, text=body, content_type="text/html", charset="utf-8", headers=headers)
    text = f"{status} {title}: {detail}\n"
    if request_id:
        text += f"Request id: {request_id}\n"
    return web.Response(status=status, text=text, content_type="text/plain", charset="utf-8", headers=headers)
