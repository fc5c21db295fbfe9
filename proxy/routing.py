"""Choose the app a request belongs to, by Host header and path prefix."""

from __future__ import annotations

import re
from dataclasses import dataclass

from proxy.config import App, Config


@dataclass(frozen=True)
class Route:
    """An app and the public path prefix it is mounted at."""

    app: App
    public_prefix: str

    def upstream_path(self, raw_path: str) -> str:
        """Map a public raw path (with query) to the upstream's raw path."""
        prefix = self.public_prefix
        if prefix == "/":
            rest = raw_path[1:]
        elif raw_path.startswith(prefix):
            rest = raw_path[len(prefix) :]
        else:
            # The prefix without its trailing slash, possibly followed by a query.
            rest = raw_path[len(prefix) - 1 :].lstrip("/")
        return self.app.upstream_path + rest


class Router:
    """Routes by host first (apps that name hosts beat apps that accept any), then longest prefix."""

    def __init__(self, config: Config) -> None:
        self._by_host: dict[str, list[Route]] = {}
        self._any_host: list[Route] = []
        for app in config.apps:
            route = Route(app, app.path_prefix)
            if app.hosts:
                for host in app.hosts:
                    self._by_host.setdefault(host, []).append(route)
            else:
                self._any_host.append(route)
        for routes in self._by_host.values():
            routes.sort(key=lambda route: len(route.public_prefix), reverse=True)
        self._any_host.sort(key=lambda route: len(route.public_prefix), reverse=True)
        self.known_hosts = frozenset(self._by_host)

    def route(self, host: str, path: str) -> Route | None:
        """Return the route for a Host header value and a path, or None when no app serves them."""
        host = host.lower()
        candidates = self._by_host.get(host)
        if candidates is None and ":" in host and not host.endswith("]"):
            candidates = self._by_host.get(host.rsplit(":", 1)[0])
        for route in candidates or ():
            if _under(path, route.public_prefix):
                return route
        for route in self._any_host:
            if _under(path, route.public_prefix):
                return route
        return None

    def routes_for_host(self, host: str) -> list[Route]:
        """Return every route that accepts a Host header value, most specific first."""
        host = host.lower()
        candidates = self._by_host.get(host)
        if candidates is None and ":" in host and not host.endswith("]"):
            candidates = self._by_host.get(host.rsplit(":", 1)[0])
        return [*(candidates or ()), *self._any_host]

    def host_is_known(self, host: str) -> bool:
        """Whether some app accepts this Host header value (apps without hosts accept all)."""
        if self._any_host:
            return True
        host = host.lower()
        return host in self._by_host or host.rsplit(":", 1)[0] in self._by_host


_SEGMENT_SEPARATOR = re.compile(r"/|\\|%5c", re.IGNORECASE)
_DOT_SEGMENTS = frozenset({".", "..", "%2e", "%2e%2e", ".%2e", "%2e."})


def has_dot_segment(raw_target: str) -> bool:
    """Return whether the path of a raw request target has a '.' or '..' segment, also percent-encoded.

    Browsers remove such segments before sending, so only crafted requests carry them. Forwarded,
    the upstream would resolve them and could leave the app's base path. Backslashes count as
    separators because some servers (IIS) treat them as '/'.
    """
    path = raw_target.split("?", 1)[0]
    if "%" not in path and "/." not in path and "\\." not in path and not path.startswith("."):
        return False  # No segment starts with a dot, plain or encoded: the common case needs no split.
    return any(segment.lower() in _DOT_SEGMENTS for segment in _SEGMENT_SEPARATOR.split(path))


def _under(path: str, prefix: str) -> bool:
    return path.startswith(prefix) or path == prefix[:-1]
