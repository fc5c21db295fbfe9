"""Header hygiene between client and upstream: hop-by-hop removal, forwarding headers, origin rewriting."""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from multidict import CIMultiDict, CIMultiDictProxy

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "proxy-authorization",
        "proxy-authenticate",
        "proxy-connection",
    }
)
"""Headers that describe one connection and never cross a proxy (RFC 9110 section 7.6.1)."""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def connection_tokens(headers: CIMultiDictProxy[str] | CIMultiDict[str]) -> set[str]:
    """Return the lower-cased header names that Connection headers list."""
    names: set[str] = set()
    for value in headers.getall("Connection", ()):
        names.update(token.strip().lower() for token in value.split(",") if token.strip())
    return names


def without_hop_by_hop(
    headers: CIMultiDictProxy[str] | CIMultiDict[str], extra: frozenset[str] = frozenset()
) -> CIMultiDict[str]:
    """Copy `headers` without hop-by-hop headers, those named by Connection, and `extra` (lower-case) names.

    Every other header keeps its position, spelling and repeats.
    """
    copy = CIMultiDict(headers)
    drop = HOP_BY_HOP | extra if extra else HOP_BY_HOP
    if "Connection" in headers:
        drop = drop | connection_tokens(headers)
    for name in drop:
        if name in copy:
            del copy[name]
    return copy


def is_trusted(peer: str | None, trusted: tuple[Network, ...]) -> bool:
    """Return whether the peer address lies in one of the trusted networks."""
    if not peer or not trusted:
        return False
    return _in_networks(peer, trusted)


@functools.lru_cache(maxsize=4096)
def _in_networks(peer: str, trusted: tuple[Network, ...]) -> bool:
    # Cached, because a proxy receives requests from the same few peers (load balancers, SSO proxies).
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in trusted)


@dataclass(frozen=True)
class ClientView:
    """The client's address, scheme and Host, after trusting forwarded values from trusted peers."""

    peer: str
    scheme: str
    host: str
    trusted: bool


def client_view(
    headers: CIMultiDictProxy[str], peer: str | None, scheme: str, trusted_networks: tuple[Network, ...]
) -> ClientView:
    """Work out the public scheme and host, honouring X-Forwarded-Proto/Host only from trusted peers."""
    trusted = is_trusted(peer, trusted_networks)
    if not trusted:
        return _view(peer or "", scheme, headers.get("Host", ""), False)
    host = headers.get("Host", "")
    forwarded_proto = headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    if forwarded_proto in ("http", "https"):
        scheme = forwarded_proto
    forwarded_host = headers.get("X-Forwarded-Host", "").split(",")[0].strip()
    if forwarded_host:
        host = forwarded_host
    return _view(peer or "", scheme, host, True)


@functools.lru_cache(maxsize=4096)
def _view(peer: str, scheme: str, host: str, trusted: bool) -> ClientView:
    # Cached because the same few clients and hosts come back again and again, and views are immutable.
    return ClientView(peer, scheme, host, trusted)


def add_forwarding_headers(upstream: CIMultiDict[str], original: CIMultiDictProxy[str], view: ClientView) -> None:
    """Set X-Forwarded-For/-Proto/-Host and Forwarded, appending only to values from trusted peers."""
    prior_for = ", ".join(original.getall("X-Forwarded-For", ())) if view.trusted else ""
    upstream["X-Forwarded-For"] = f"{prior_for}, {view.peer}" if prior_for else view.peer
    upstream["X-Forwarded-Proto"] = view.scheme
    upstream["X-Forwarded-Host"] = view.host
    element = f"for={_forwarded_node(view.peer)};host={_forwarded_value(view.host)};proto={view.scheme}"
    prior_forwarded = ", ".join(original.getall("Forwarded", ())) if view.trusted else ""
    upstream["Forwarded"] = f"{prior_forwarded}, {element}" if prior_forwarded else element


def _forwarded_node(peer: str) -> str:
    if ":" in peer:
        return f'"[{peer}]"'
    return peer or "unknown"


_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


@functools.lru_cache(maxsize=1024)
def _forwarded_value(value: str) -> str:
    if _TOKEN.match(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


@dataclass(frozen=True)
class OriginMap:
    """Translates URLs and cookie attributes from the upstream's origin and path to the public ones."""

    upstream_origin: str
    upstream_path: str
    public_origin: str
    public_prefix: str

    @property
    def upstream_host(self) -> str:
        return urlsplit(self.upstream_origin).hostname or ""

    def url(self, value: str) -> str:
        """Rewrite an absolute or absolute-path URL that points into the upstream app."""
        if value.lower().startswith(self.upstream_origin.lower()):
            rest = value[len(self.upstream_origin) :]
            if rest == "" or rest[0] in "/?#":
                return self.public_origin + self._path(rest or "/")
            return value
        if value.startswith("/") and not value.startswith("//"):
            return self._path(value)
        return value

    def _knows_public_prefix(self, path: str) -> bool:
        """Whether an app mounted from its root already wrote the public prefix into `path`.

        Apps configured with their public URL (Roundup's `web`, a Java app's context path) send
        `/erp/...` themselves; prefixing again would give `/erp/erp/...`. An app whose own root
        contains a folder named like the public prefix cannot be distinguished from them.
        """
        prefix = self.public_prefix
        return self.upstream_path == "/" and prefix != "/" and (path.startswith(prefix) or path == prefix[:-1])

    def _path(self, path: str) -> str:
        base = self.upstream_path
        if self._knows_public_prefix(path):
            return path
        if path.startswith(base):
            return self.public_prefix + path[len(base) :]
        if path + "/" == base or path.startswith(base[:-1] + "?"):
            return self.public_prefix + path[len(base) - 1 :].lstrip("/")
        # A path outside the upstream's base cannot be reached through this app; leave it.
        return path

    def refresh(self, value: str) -> str:
        """Rewrite the URL inside a Refresh header such as `5; url=http://upstream/next`."""
        match = re.match(r"^(\s*\d+(?:\.\d+)?\s*[;,]\s*url\s*=\s*)(['\"]?)(.*?)\2\s*$", value, re.IGNORECASE)
        if not match:
            return value
        lead, quote, url = match.groups()
        return f"{lead}{quote}{self.url(url)}{quote}"

    def set_cookie(self, value: str) -> str:
        """Rewrite the Domain and Path attributes of one Set-Cookie header value."""
        parts = value.split(";")
        rewritten = [parts[0]]
        for attribute in parts[1:]:
            name, _, attribute_value = attribute.partition("=")
            key = name.strip().lower()
            if key == "domain":
                domain = attribute_value.strip().lstrip(".").lower()
                if domain == self.upstream_host.lower():
                    continue  # Becomes a host-only cookie of the public host.
            elif key == "path":
                path = attribute_value.strip()
                if path.startswith("/"):
                    attribute = f"{name}={self._cookie_path(path)}"
            rewritten.append(attribute)
        return ";".join(rewritten)

    def _cookie_path(self, path: str) -> str:
        base = self.upstream_path
        if self._knows_public_prefix(path):
            return path
        if path.startswith(base):
            return self.public_prefix + path[len(base) :]
        if path + "/" == base:
            return self.public_prefix.rstrip("/") or "/"
        if base.startswith(path):
            # A path above the app's base (e.g. '/') covers the whole public prefix.
            return self.public_prefix.rstrip("/") or "/"
        return path


def rewrite_response_headers(headers: CIMultiDict[str], origins: OriginMap) -> None:
    """Rewrite Location, Content-Location, Refresh and every Set-Cookie in place."""
    for name in ("Location", "Content-Location"):
        if name in headers:
            headers[name] = origins.url(headers[name])
    if "Refresh" in headers:
        headers["Refresh"] = origins.refresh(headers["Refresh"])
    cookies = headers.getall("Set-Cookie", ())
    if cookies:
        del headers["Set-Cookie"]
        for cookie in cookies:
            headers.add("Set-Cookie", origins.set_cookie(cookie))
