"""Tests of the `basic` and `digest` sources: user names from Authorization headers, never passwords."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable

import pytest

from proxy.identity import IdentityResolver
from proxy.identity.authorization import basic_user_name, digest_user_name

from .helpers import TRUSTED_PEER, UNTRUSTED_PEER


def basic(credentials: bytes) -> str:
    return base64.b64encode(credentials).decode("ascii")


@pytest.mark.parametrize(
    ("credentials", "user"),
    [
        pytest.param(basic(b"alice:secret"), "alice", id="plain"),
        pytest.param(basic(b"alice:"), "alice", id="empty-password"),
        pytest.param(basic(b"alice:pa:ss"), "alice", id="colon-in-password"),
        pytest.param(basic("jürgen:x".encode()), "jürgen", id="utf-8"),
        pytest.param(basic("jürgen:x".encode("latin-1")), "jürgen", id="latin-1"),
        pytest.param(basic(b"DOMAIN\\alice:x"), "DOMAIN\\alice", id="windows-domain"),
        pytest.param(basic(b"alice:secret").rstrip("="), "alice", id="no-padding"),
        pytest.param(basic(b"ali:xy") + "!!!!", "ali", id="password-never-decoded"),
        pytest.param(basic(b"alice"), None, id="no-colon"),
        pytest.param("a=b=", None, id="padding-inside"),
        pytest.param("****", None, id="not-base64"),
        pytest.param("", None, id="empty"),
    ],
)
def test_basic_user_name(credentials: str, user: str | None) -> None:
    assert basic_user_name(credentials) == user


@pytest.mark.parametrize(
    ("credentials", "result"),
    [
        pytest.param(
            'username="alice", realm="erp", nonce="abc", uri="/", response="0123"', ("alice", None), id="quoted"
        ),
        pytest.param('realm="erp", USERNAME=alice, response="0123"', ("alice", None), id="token-any-case"),
        pytest.param(r'username="DOMAIN\\alice", realm="a,b"', ("DOMAIN\\alice", None), id="escaped"),
        pytest.param("username*=UTF-8''J%C3%BCrgen, realm=\"erp\"", ("Jürgen", None), id="extended"),
        pytest.param(
            'username="9f86d08", userhash=true', (None, "Digest user name is hashed (userhash=true)"), id="userhash"
        ),
        pytest.param('realm="erp"', (None, "Digest credentials without username"), id="missing"),
    ],
)
def test_digest_user_name(credentials: str, result: tuple[str | None, str | None]) -> None:
    assert digest_user_name(credentials) == result


@pytest.mark.parametrize(
    ("section", "peer", "authorization", "user", "sources"),
    [
        pytest.param("sources: [basic]", TRUSTED_PEER, "Basic " + basic(b"alice:pw"), "alice", ("basic",), id="basic-trusted"),
        pytest.param("sources: [basic]", UNTRUSTED_PEER, "Basic " + basic(b"alice:pw"), None, (), id="basic-untrusted"),
        pytest.param(
            "sources: [basic]\nbasic: {trusted_peers_only: false}",
            UNTRUSTED_PEER,
            "basic " + basic(b"alice:pw"),
            "alice",
            ("basic",),
            id="basic-upstream-checks",
        ),
        pytest.param("sources: [basic]", TRUSTED_PEER, 'Digest username="alice"', None, (), id="basic-ignores-digest"),
        pytest.param("sources: [digest]", TRUSTED_PEER, 'Digest username="bob", qop=auth', "bob", ("digest",), id="digest-trusted"),
        pytest.param("sources: [digest]", UNTRUSTED_PEER, 'Digest username="bob"', None, (), id="digest-untrusted"),
        pytest.param("sources: [digest]", TRUSTED_PEER, "Bearer abc", None, (), id="digest-ignores-bearer"),
    ],
)
def test_authorization_source(
    resolver: Callable[..., IdentityResolver],
    section: str,
    peer: str,
    authorization: str,
    user: str | None,
    sources: tuple[str, ...],
) -> None:
    identity = resolver(section).resolve(peer, {"Authorization": authorization}, {}, secure=False)
    assert identity.user == user
    assert identity.sources == sources


def test_authorization_untrusted_logged_once(
    resolver: Callable[..., IdentityResolver], caplog: pytest.LogCaptureFixture
) -> None:
    resolve = resolver("sources: [basic]")
    with caplog.at_level(logging.WARNING, logger="proxy.identity"):
        for _ in range(3):
            resolve.resolve(UNTRUSTED_PEER, {"Authorization": "Basic " + basic(b"alice:pw")}, {}, secure=False)
    assert caplog.messages == [
        "app erp: basic source: Basic credentials from a peer not in trusted_proxies ignored; "
        "set basic.trusted_peers_only: false if the upstream checks the password"
    ]


def test_authorization_malformed_logged(
    resolver: Callable[..., IdentityResolver], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="proxy.identity"):
        resolver("sources: [basic]").resolve(TRUSTED_PEER, {"Authorization": "Basic ****"}, {}, secure=False)
    assert caplog.messages == ["app erp: basic source: malformed Basic credentials"]
