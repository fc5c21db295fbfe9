"""HTTP responses of the demo app: UTF-8 pages, the windows-1252 page and redirects."""

from __future__ import annotations

from aiohttp import web

from proxy.demo.markup import escape


def html_page(text: str, status: int = 200) -> web.Response:
    """Send a page as UTF-8, with the charset named in the Content-Type header."""
    return web.Response(status=status, text=text, content_type="text/html", charset="utf-8")


def windows_1252_page(text: str, status: int = 200) -> web.Response:
    """Send a page encoded in windows-1252 with `Content-Type: text/html` and no charset parameter.

    The page must declare its charset in a META tag. Characters that windows-1252 lacks become
    numeric character references, as browsers do when they submit such text.
    """
    return web.Response(status=status, body=text.encode("cp1252", errors="xmlcharrefreplace"), content_type="text/html")


def redirect(location: str) -> web.Response:
    """Send 302 Found to a path on this app, with the short HTML body old web servers added."""
    body = f'<HTML><BODY>The document has moved <A HREF="{escape(location)}">here</A>.</BODY></HTML>\n'
    return web.Response(status=302, headers={"Location": location}, text=body, content_type="text/html", charset="utf-8")
