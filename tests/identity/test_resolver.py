"""Tests of the resolver: sources combined in order, group mapping, default roles, and the CLI entry point."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest

from proxy.identity import IdentityResolver
from proxy.identity.model import SourceResult

from .helpers import TRUSTED_PEER, UNTRUSTED_PEER

HS_SECRET = "hs256-test-secret-of-32-bytes-xx"
SECTION = f"""
    sources: {{ORDER}}
    combine_roles: {{COMBINE}}
    headers: {{{{}}}}
    jwt: {{{{algorithms: [HS256], secret: '{HS_SECRET}'}}}}
    map: roles.csv
    page: {{{{session_cookie: SID, roles_regex: 'data-role="([^"]+)"'}}}}
    group_roles:
      - {{{{group: erp-buyers, roles: [buyer]}}}}
      - {{{{pattern: '^erp-(?P<role>.+)s$', roles: ['\\g<role>', staff]}}}}
    default_roles: [employee]
"""
ALL = "[headers, jwt, map, page]"


def token(user: str, *roles: str) -> str:
    claims = {"preferred_username": user, "roles": list(roles), "exp": int(time.time()) + 300}
    return "Bearer " + jwt.encode(claims, HS_SECRET, "HS256")


@pytest.fixture
def build(resolver: Callable[..., IdentityResolver], tmp_path: Path) -> Callable[[str, str], IdentityResolver]:
    (tmp_path / "roles.csv").write_text("alice,approver\nbob,auditor\n", encoding="utf-8")

    def make(order: str = ALL, combine: str = "union") -> IdentityResolver:
        resolve = resolver(SECTION.format(ORDER=order, COMBINE=combine))
        resolve.learn_from_page("sid-1", b'<span data-role="page-role"></span>')
        return resolve

    return make


@pytest.mark.parametrize(
    ("order", "combine", "headers", "cookies", "user", "roles", "sources"),
    [
        pytest.param(
            ALL, "union", {"X-Forwarded-User": "alice", "X-Forwarded-Groups": "erp-buyers"}, {},
            "alice", {"buyer", "staff", "approver"}, ("headers", "map"), id="headers-groups-and-map",
        ),
        pytest.param(
            ALL, "first", {"X-Forwarded-User": "alice", "X-Forwarded-Groups": "erp-buyers"}, {},
            "alice", {"buyer", "staff"}, ("headers",), id="first-keeps-headers",
        ),
        pytest.param(
            ALL, "first", {"X-Forwarded-User": "alice"}, {},
            "alice", {"approver"}, ("headers", "map"), id="first-falls-to-map",
        ),
        pytest.param(
            ALL, "union", {"Authorization": token("bob", "clerk")}, {},
            "bob", {"clerk", "auditor"}, ("jwt", "map"), id="jwt-and-map",
        ),
        pytest.param(
            ALL, "union", {"X-Forwarded-User": "alice", "Authorization": token("bob", "clerk")}, {},
            "alice", {"approver"}, ("headers", "map"), id="other-user-roles-ignored",
        ),
        pytest.param(
            ALL, "union", {"X-Forwarded-User": "alice", "Authorization": token("alice", "clerk")}, {},
            "alice", {"clerk", "approver"}, ("headers", "jwt", "map"), id="same-user-roles-joined",
        ),
        pytest.param(
            "[jwt, headers, map, page]", "union", {"X-Forwarded-User": "alice", "Authorization": token("bob")}, {},
            "bob", {"auditor"}, ("jwt", "map"), id="order-decides-user",
        ),
        pytest.param(
            ALL, "union", {"X-Forwarded-User": "carol"}, {"SID": "sid-1"},
            "carol", {"page-role"}, ("headers", "page"), id="page-roles-without-user",
        ),
        pytest.param(
            ALL, "union", {"X-Forwarded-User": "carol"}, {},
            "carol", {"employee"}, ("headers", "default"), id="default-for-known-user",
        ),
        pytest.param(
            ALL, "union", {}, {},
            None, {"employee"}, ("default",), id="anonymous-default",
        ),
    ],
)
def test_resolver_combines(
    build: Callable[[str, str], IdentityResolver],
    order: str,
    combine: str,
    headers: dict[str, str],
    cookies: dict[str, str],
    user: str | None,
    roles: set[str],
    sources: tuple[str, ...],
) -> None:
    identity = build(order, combine).resolve(TRUSTED_PEER, headers, cookies, secure=False)
    assert identity.user == user
    assert identity.roles == frozenset(roles)
    assert identity.sources == sources
    assert (identity.set_cookie is None) is (user is not None)


@pytest.mark.parametrize(
    ("user", "groups", "roles", "sources"),
    [
        pytest.param("alice", (), {"approver"}, ("cli", "map"), id="map"),
        pytest.param("alice", ("erp-buyers", "other"), {"buyer", "staff", "approver"}, ("cli", "map"), id="groups"),
        pytest.param("zoe", ("erp-clerks",), {"clerk", "staff"}, ("cli",), id="pattern"),
        pytest.param("zoe", (), {"employee"}, ("cli", "default"), id="default"),
    ],
)
def test_resolver_for_cli(
    build: Callable[[str, str], IdentityResolver],
    user: str,
    groups: tuple[str, ...],
    roles: set[str],
    sources: tuple[str, ...],
) -> None:
    identity = build(ALL, "union").resolve_for_cli(user, groups)
    assert identity.user == user
    assert identity.roles == frozenset(roles)
    assert identity.sources == sources
    assert identity.set_cookie is None
    assert identity.visitor_id == build(ALL, "union").resolve(
        TRUSTED_PEER, {"X-Forwarded-User": user}, {}, secure=False
    ).visitor_id


@pytest.mark.parametrize(
    ("rules", "groups", "roles"),
    [
        pytest.param("[{group: a, roles: [x]}]", "a,b", {"x"}, id="exact"),
        pytest.param("[{group: a, roles: [x]}]", "A", set(), id="exact-is-case-sensitive"),
        pytest.param("[{pattern: '(?i)^erp-(.+)$', roles: ['\\1']}]", "ERP-Buyer,erp", {"Buyer"}, id="pattern-capture"),
        pytest.param("[{pattern: 'erp', roles: [x]}]", "erp-buyer", set(), id="pattern-full-match"),
        pytest.param(
            "[{group: a, roles: [x]}, {pattern: '.*', roles: [y]}]", "a", {"x", "y"}, id="every-rule-applies"
        ),
        pytest.param("[{pattern: '(.*)', roles: ['\\1']}]", "ok, ,a b", {"ok", "a b"}, id="blank-groups-dropped"),
    ],
)
def test_resolver_group_roles(
    resolver: Callable[..., IdentityResolver], rules: str, groups: str, roles: set[str]
) -> None:
    resolve = resolver(f"sources: [headers]\ngroup_roles: {rules}")
    identity = resolve.resolve(TRUSTED_PEER, {"X-Forwarded-User": "u", "X-Forwarded-Groups": groups}, {}, secure=False)
    assert identity.roles == frozenset(roles)


def test_resolver_keep_unmapped_groups(resolver: Callable[..., IdentityResolver]) -> None:
    resolve = resolver("sources: [headers]\nkeep_unmapped_groups: true\ngroup_roles: [{group: a, roles: [x]}]")
    identity = resolve.resolve(TRUSTED_PEER, {"X-Forwarded-User": "u", "X-Forwarded-Groups": "a,b"}, {}, secure=False)
    assert identity.roles == frozenset({"x", "b"})


def test_resolver_source_crash(
    build: Callable[[str, str], IdentityResolver], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    resolve = build(ALL, "union")

    def broken(*arguments: object) -> SourceResult:
        raise RuntimeError("boom")

    monkeypatch.setattr(resolve._headers, "read", broken)  # noqa: SLF001
    with caplog.at_level(logging.WARNING, logger="proxy.identity"):
        for _ in range(2):
            identity = resolve.resolve(TRUSTED_PEER, {"Authorization": token("bob")}, {}, secure=False)
            assert identity.user == "bob"
    assert caplog.messages == ["app erp: headers source: unexpected error"]
    assert caplog.records[0].exc_info is not None


def test_resolver_map_needs_user(resolver: Callable[..., IdentityResolver], tmp_path: Path) -> None:
    (tmp_path / "roles.csv").write_text("alice,approver\n", encoding="utf-8")
    identity = resolver("sources: [map]\nmap: roles.csv").resolve(
        TRUSTED_PEER, {"X-Forwarded-User": "alice"}, {}, secure=False
    )
    assert identity.user is None
    assert identity.roles == frozenset()
    assert identity.sources == ()


def test_resolver_untrusted_peer_keeps_token(build: Callable[[str, str], IdentityResolver]) -> None:
    identity = build(ALL, "union").resolve(
        UNTRUSTED_PEER, {"X-Forwarded-User": "alice", "Authorization": token("bob")}, {}, secure=False
    )
    assert identity.user == "bob"
