"""Tests of the `headers` source: user, e-mail and groups from the proxy in front."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from multidict import CIMultiDict

from proxy.identity import IdentityResolver

from .helpers import TRUSTED_PEER

SECTION = """
    sources: [headers]
    headers: {HEADERS}
    keep_unmapped_groups: true
"""


@pytest.mark.parametrize(
    ("settings", "headers", "user", "roles"),
    [
        pytest.param("{}", [("X-Forwarded-User", "alice")], "alice", set(), id="oauth2-proxy-user"),
        pytest.param("{}", [("X-Auth-Request-User", "alice")], "alice", set(), id="auth-request-user"),
        pytest.param("{}", [("Remote-User", "alice")], "alice", set(), id="apache-remote-user"),
        pytest.param("{}", [("x-remote-user", " alice ")], "alice", set(), id="lower-case-and-spaces"),
        pytest.param("{}", [("X-Forwarded-Email", "alice@example.com")], "alice@example.com", set(), id="email-as-user"),
        pytest.param("{email_as_user: false}", [("X-Forwarded-Email", "a@example.com")], None, set(), id="email-off"),
        pytest.param(
            "{}",
            [("X-Forwarded-User", "alice"), ("X-Forwarded-Groups", "erp-buyers, staff,,staff")],
            "alice",
            {"erp-buyers", "staff"},
            id="groups-comma",
        ),
        pytest.param(
            "{group_separator: '|'}",
            [("X-Forwarded-User", "alice"), ("X-Auth-Request-Groups", "a|b")],
            "alice",
            {"a", "b"},
            id="groups-separator",
        ),
        pytest.param(
            "{user: [X-SSO-Login], groups: [X-SSO-Groups]}",
            [("X-Forwarded-User", "mallory"), ("X-SSO-Login", "alice"), ("X-SSO-Groups", "a")],
            "alice",
            {"a"},
            id="custom-names-only",
        ),
        pytest.param(
            "{}",
            [("X-Forwarded-User", "alice"), ("X-Remote-User", "alice")],
            "alice",
            set(),
            id="two-names-agree",
        ),
        pytest.param(
            "{}",
            [("X-Forwarded-User", "admin"), ("X-Forwarded-User", "alice")],
            None,
            set(),
            id="appended-user-conflict",
        ),
        pytest.param(
            "{}",
            [("X-Forwarded-User", "alice"), ("X-Forwarded-Groups", "admins"), ("X-Forwarded-Groups", "users")],
            "alice",
            set(),
            id="appended-groups-conflict",
        ),
        pytest.param("{}", [("X-Forwarded-User", "al\x01ice")], None, set(), id="control-character"),
        pytest.param("{}", [("X-Forwarded-User", "a" * 257)], None, set(), id="too-long"),
        pytest.param("{}", [("Accept", "*/*")], None, set(), id="absent"),
    ],
)
def test_headers_source(
    resolver: Callable[..., IdentityResolver],
    settings: str,
    headers: list[tuple[str, str]],
    user: str | None,
    roles: set[str],
) -> None:
    identity = resolver(SECTION.replace("{HEADERS}", settings)).resolve(
        TRUSTED_PEER, CIMultiDict(headers), {}, secure=False
    )
    assert identity.user == user
    assert identity.roles == frozenset(roles)


def test_headers_conflict_logged_once(
    resolver: Callable[..., IdentityResolver], caplog: pytest.LogCaptureFixture
) -> None:
    resolve = resolver(SECTION.replace("{HEADERS}", "{}"))
    headers = CIMultiDict([("X-Forwarded-User", "admin"), ("X-Remote-User", "alice")])
    with caplog.at_level(logging.WARNING, logger="proxy.identity"):
        for _ in range(5):
            resolve.resolve(TRUSTED_PEER, headers, {}, secure=False)
    assert caplog.messages == [
        "app erp: headers source: conflicting values in X-Forwarded-User, X-Remote-User; ignoring them all"
    ]
