"""Tests of peer trust and of removing identity headers that an untrusted peer sent."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from proxy.config import Config
from proxy.identity import HeaderGuard, IdentityResolver, TrustedPeers

from .helpers import TRUSTED_PEER, UNTRUSTED_PEER

NETWORKS = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8"))


@pytest.mark.parametrize(
    ("peer", "trusted"),
    [
        pytest.param("10.1.2.3", True, id="ipv4-inside"),
        pytest.param("11.1.2.3", False, id="ipv4-outside"),
        pytest.param("::ffff:10.1.2.3", True, id="ipv4-mapped"),
        pytest.param("fd00::1", True, id="ipv6-inside"),
        pytest.param("fe80::1%eth0", False, id="ipv6-scoped-outside"),
        pytest.param("", False, id="empty"),
        pytest.param(None, False, id="unix-socket"),
        pytest.param("not-an-ip", False, id="garbage"),
    ],
)
def test_trusted_peers_contains(peer: str | None, trusted: bool) -> None:
    assert TrustedPeers(NETWORKS).contains(peer) is trusted


def test_trusted_peers_empty_trusts_nobody() -> None:
    assert TrustedPeers(()).contains("127.0.0.1") is False


SPOOFED = CIMultiDict(
    [
        ("Host", "erp.example"),
        ("x-forwarded-user", "admin"),
        ("X-Forwarded-Groups", "erp-admins"),
        ("Remote-User", "admin"),
        ("X-Custom-User", "admin"),
        ("Cookie", "a=b"),
    ]
)


def test_strip_untrusted_removes_identity_headers(load: Callable[..., Config]) -> None:
    guard = HeaderGuard.from_config(load("sources: [headers]\nheaders: {user: [X-Custom-User]}"))
    stripped = guard.strip_untrusted(CIMultiDictProxy(SPOOFED), UNTRUSTED_PEER)
    assert list(stripped.items()) == [("Host", "erp.example"), ("Cookie", "a=b")]


def test_strip_untrusted_keeps_trusted(load: Callable[..., Config]) -> None:
    guard = HeaderGuard.from_config(load("sources: [headers]\nheaders: {user: [X-Custom-User]}"))
    original = CIMultiDictProxy(SPOOFED)
    assert guard.strip_untrusted(original, TRUSTED_PEER) is original


def test_strip_untrusted_unchanged_is_same_object(load: Callable[..., Config]) -> None:
    guard = HeaderGuard.from_config(load(""))
    original = CIMultiDictProxy(CIMultiDict(Host="erp.example"))
    assert guard.strip_untrusted(original, UNTRUSTED_PEER) is original


def test_strip_untrusted_plain_mapping(load: Callable[..., Config]) -> None:
    guard = HeaderGuard.from_config(load(""))
    stripped = guard.strip_untrusted({"X-Auth-Request-User": "admin", "Accept": "*/*"}, UNTRUSTED_PEER)
    assert list(stripped.items()) == [("Accept", "*/*")]


def test_strip_untrusted_header_names(load: Callable[..., Config]) -> None:
    guard = HeaderGuard.from_config(load("sources: [headers]\nheaders: {user: [X-Custom-User], groups: [X-Roles]}"))
    assert guard.header_names == (
        "remote-user",
        "x-auth-request-email",
        "x-auth-request-groups",
        "x-auth-request-user",
        "x-custom-user",
        "x-forwarded-email",
        "x-forwarded-groups",
        "x-forwarded-user",
        "x-remote-user",
        "x-roles",
    )


def test_strip_untrusted_logs_once(load: Callable[..., Config], caplog: pytest.LogCaptureFixture) -> None:
    guard = HeaderGuard.from_config(load(""))
    with caplog.at_level(logging.WARNING, logger="proxy.identity"):
        for _ in range(3):
            guard.strip_untrusted({"X-Forwarded-User": "admin"}, UNTRUSTED_PEER)
    assert caplog.messages == [
        "removed identity header(s) x-forwarded-user from a request whose peer is not in trusted_proxies"
    ]


def test_spoofed_headers_do_not_change_roles(
    load: Callable[..., Config], resolver: Callable[..., IdentityResolver]
) -> None:
    identity_section = """
        sources: [headers]
        group_roles:
          - {group: erp-admins, roles: [admin]}
        default_roles: [employee]
    """
    guard = HeaderGuard.from_config(load(identity_section))
    resolve = resolver(identity_section)

    headers = guard.strip_untrusted(CIMultiDictProxy(SPOOFED), UNTRUSTED_PEER)
    identity = resolve.resolve(UNTRUSTED_PEER, headers, {}, secure=False)
    assert identity.user is None
    assert identity.roles == frozenset({"employee"})

    # Even unstripped, the resolver ignores identity headers from a peer outside trusted_proxies.
    identity = resolve.resolve(UNTRUSTED_PEER, SPOOFED, {}, secure=False)
    assert identity.user is None
    assert identity.roles == frozenset({"employee"})

    # The same headers from the proxy in front are honoured.
    identity = resolve.resolve(TRUSTED_PEER, SPOOFED, {}, secure=False)
    assert identity.user == "admin"
    assert identity.roles == frozenset({"admin"})
