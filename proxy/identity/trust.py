"""Trusted peers, and the removal of identity headers that any other peer sends."""

from __future__ import annotations

import functools
import ipaddress
import logging
from collections.abc import Iterable, Mapping, Sequence

from multidict import CIMultiDict, CIMultiDictProxy

from proxy.config.identity import DEFAULT_EMAIL_HEADERS, DEFAULT_GROUPS_HEADERS, DEFAULT_USER_HEADERS
from proxy.config.model import Config, Network
from proxy.identity.ratelimit import RateLimitedLog

logger = logging.getLogger(__name__)

DEFAULT_IDENTITY_HEADERS = DEFAULT_USER_HEADERS + DEFAULT_EMAIL_HEADERS + DEFAULT_GROUPS_HEADERS
"""Header names removed from untrusted requests even when no app reads them, because upstream apps may."""

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_peer(peer_ip: str | None) -> Address | None:
    """Parse a peer address, unwrapping IPv4-mapped IPv6 (::ffff:a.b.c.d); None when it is not an IP address."""
    if not peer_ip:
        return None
    try:
        address = ipaddress.ip_address(peer_ip.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class TrustedPeers:
    """The peers (CIDR blocks) whose identity headers are honoured."""

    def __init__(self, networks: Sequence[Network]) -> None:
        self.networks = tuple(networks)
        self._cached = functools.lru_cache(maxsize=4096)(self._check)

    def contains(self, peer_ip: str | None) -> bool:
        """Return whether `peer_ip` (the TCP peer, not a forwarded address) is in a trusted network."""
        if not self.networks or not peer_ip:
            return False
        return self._cached(peer_ip)

    def _check(self, peer_ip: str) -> bool:
        address = parse_peer(peer_ip)
        if address is None:
            return False
        return any(address.version == network.version and address in network for network in self.networks)


class HeaderGuard:
    """Removes identity headers from every request whose TCP peer is not a trusted proxy.

    Call `strip_untrusted` on each request before routing, so that neither Guidegate nor the
    upstream app receives a user name or group list that a browser made up.
    """

    def __init__(self, trusted: TrustedPeers, header_names: Iterable[str]) -> None:
        self.trusted = trusted
        self.header_names: tuple[str, ...] = tuple(sorted({name.lower() for name in header_names}))
        self._log = RateLimitedLog(logger)

    @classmethod
    def from_config(cls, config: Config) -> HeaderGuard:
        """Build the guard for a deployment: the default identity headers plus every app's configured ones."""
        names = set(DEFAULT_IDENTITY_HEADERS)
        for app in config.apps:
            if app.identity.headers is not None:
                names.update(app.identity.headers.header_names())
        return cls(TrustedPeers(config.trusted_proxies), names)

    def strip_untrusted(
        self, headers: CIMultiDictProxy[str] | CIMultiDict[str] | Mapping[str, str], peer_ip: str | None
    ) -> CIMultiDictProxy[str]:
        """Return `headers` without identity headers unless `peer_ip` is a trusted proxy.

        Returns the same proxy object when nothing is removed, so the common case does not copy.
        """
        if not isinstance(headers, (CIMultiDict, CIMultiDictProxy)):
            headers = CIMultiDict(headers)
        if self.trusted.contains(peer_ip):
            return headers if isinstance(headers, CIMultiDictProxy) else CIMultiDictProxy(headers)

        present = [name for name in self.header_names if name in headers]
        if not present:
            return headers if isinstance(headers, CIMultiDictProxy) else CIMultiDictProxy(headers)

        kept: CIMultiDict[str] = CIMultiDict(headers)
        for name in present:
            kept.popall(name)
        self._log.warning(
            ("stripped",) + tuple(present),
            "removed identity header(s) %s from a request whose peer is not in trusted_proxies",
            ", ".join(present),
        )
        return CIMultiDictProxy(kept)
