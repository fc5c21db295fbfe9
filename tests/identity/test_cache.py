"""Tests of the identity cache: what a request key covers, the bound, and when a cached identity is resolved again."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from multidict import CIMultiDict

from proxy.identity import Identity, IdentityResolver
from proxy.identity.cache import CachedIdentity, IdentityCache, request_key

from .helpers import TRUSTED_PEER, UNTRUSTED_PEER, FakeClock

VISITOR_COOKIE = "guidegate_vid=" + "A" * 32
HEADERS_AND_MAP = "sources: [headers, map]\nmap: roles.csv\ndefault_roles: [employee]"
PAGE = "sources: [page]\npage: {session_cookie: SID, roles_regex: 'data-role=\"([^\"]+)\"', ttl: 1h}\ndefault_roles: [employee]"


def resolve(resolver: IdentityResolver, peer: str, headers: dict[str, str]) -> Identity:
    """Resolve through the cache; the Cookie header is parsed only when the resolver calls `cookies`."""
    request_headers = CIMultiDict(headers)

    def cookies() -> dict[str, str]:
        pairs = (pair.strip().split("=", 1) for pair in request_headers.get("Cookie", "").split(";") if "=" in pair)
        return {name: value for name, value in pairs}

    return resolver.resolve_cached(peer, request_headers, cookies, secure=False)


@pytest.fixture
def headers_and_map(resolver: Callable[..., IdentityResolver], tmp_path: Path) -> IdentityResolver:
    (tmp_path / "roles.csv").write_text("alice,approver\n", encoding="utf-8")
    return resolver(HEADERS_AND_MAP)


def entry(visitor: str) -> CachedIdentity:
    identity = Identity(visitor, None, frozenset(), (), None)
    return CachedIdentity(identity, frozenset(), (), None, None, None)


@pytest.mark.parametrize(
    ("trusted", "first", "second"),
    [
        pytest.param(False, {}, {"Cookie": ""}, id="absent-or-empty-cookie"),
        pytest.param(False, {"Cookie": "a=1; b=2"}, {"Cookie": "a=1", "cookie": "b=2"}, id="one-or-two-cookie-headers"),
        pytest.param(False, {"Cookie": "a=1"}, {"Cookie": "a=2"}, id="cookie-value"),
        pytest.param(True, {"X-Forwarded-User": "alice"}, {"X-Forwarded-User": "bob"}, id="user-header"),
        pytest.param(True, {"X-Forwarded-User": "alice"}, {"X-Forwarded-Email": "alice"}, id="header-name"),
        pytest.param(True, {"Authorization": "Basic YTpi"}, {}, id="credentials"),
    ],
)
def test_request_key_distinct(trusted: bool, first: dict[str, str], second: dict[str, str]) -> None:
    names = ("X-Forwarded-User", "X-Forwarded-Email", "Authorization", "Cookie")
    first_key = request_key(trusted, CIMultiDict(first), names)
    second_key = request_key(trusted, CIMultiDict(second), names)
    assert first_key is not None
    assert second_key is not None
    assert first_key != second_key


def test_request_key_trust_distinct() -> None:
    assert request_key(True, CIMultiDict(), ("Cookie",)) != request_key(False, CIMultiDict(), ("Cookie",))


def test_request_key_rejects_separator() -> None:
    assert request_key(False, {"Cookie": "a=1\nb=2"}, ("Cookie",)) is None


def test_cache_bounded() -> None:
    cache = IdentityCache(max_entries=3)
    for number in range(5):
        cache.put(bytes([number]), entry(f"v{number}"))
    assert len(cache) == 3
    assert cache.get(bytes([0])) is None
    assert cache.get(bytes([1])) is None
    assert cache.get(bytes([4])) == entry("v4")


def test_cache_evicts_least_recently_used() -> None:
    cache = IdentityCache(max_entries=2)
    cache.put(b"a", entry("a"))
    cache.put(b"b", entry("b"))
    cache.get(b"a")
    cache.put(b"c", entry("c"))
    assert cache.get(b"b") is None
    assert cache.get(b"a") == entry("a")


def test_resolver_cache_reuses_identity(headers_and_map: IdentityResolver) -> None:
    first = resolve(headers_and_map, UNTRUSTED_PEER, {"Cookie": VISITOR_COOKIE})
    second = resolve(headers_and_map, UNTRUSTED_PEER, {"Cookie": VISITOR_COOKIE})
    assert second is first
    assert first.set_cookie is None
    assert first == headers_and_map.resolve(UNTRUSTED_PEER, {}, {"guidegate_vid": "A" * 32}, secure=False)
    assert len(headers_and_map.cache) == 1


def test_resolver_cache_new_cookie_each_time(headers_and_map: IdentityResolver) -> None:
    first = resolve(headers_and_map, UNTRUSTED_PEER, {})
    second = resolve(headers_and_map, UNTRUSTED_PEER, {})
    assert first.set_cookie is not None
    assert second.set_cookie is not None
    assert first.set_cookie != second.set_cookie
    assert first.visitor_id != second.visitor_id
    assert (first.roles, first.sources) == (second.roles, second.sources) == (frozenset({"employee"}), ("default",))


def test_resolver_cache_ignores_untrusted_headers(headers_and_map: IdentityResolver) -> None:
    first = resolve(headers_and_map, UNTRUSTED_PEER, {"Cookie": VISITOR_COOKIE, "X-Forwarded-User": "alice"})
    second = resolve(headers_and_map, UNTRUSTED_PEER, {"Cookie": VISITOR_COOKIE, "X-Forwarded-User": "bob"})
    assert second is first
    assert first.user is None


def test_resolver_cache_per_user(headers_and_map: IdentityResolver) -> None:
    alice = resolve(headers_and_map, TRUSTED_PEER, {"X-Forwarded-User": "alice"})
    bob = resolve(headers_and_map, TRUSTED_PEER, {"X-Forwarded-User": "bob"})
    assert (alice.user, alice.roles) == ("alice", frozenset({"approver"}))
    assert (bob.user, bob.roles) == ("bob", frozenset({"employee"}))
    assert resolve(headers_and_map, TRUSTED_PEER, {"X-Forwarded-User": "alice"}) is alice


def test_resolver_cache_map_reload(headers_and_map: IdentityResolver, tmp_path: Path, clock: FakeClock) -> None:
    before = resolve(headers_and_map, TRUSTED_PEER, {"X-Forwarded-User": "alice"})
    (tmp_path / "roles.csv").write_text("alice,approver;auditor\n", encoding="utf-8")
    clock.advance(2)
    after = resolve(headers_and_map, TRUSTED_PEER, {"X-Forwarded-User": "alice"})
    assert before.roles == frozenset({"approver"})
    assert after.roles == frozenset({"approver", "auditor"})


def test_resolver_cache_anonymous_ignores_map(headers_and_map: IdentityResolver, tmp_path: Path, clock: FakeClock) -> None:
    before = resolve(headers_and_map, UNTRUSTED_PEER, {"Cookie": VISITOR_COOKIE})
    (tmp_path / "roles.csv").write_text("alice,auditor\n", encoding="utf-8")
    clock.advance(2)
    assert resolve(headers_and_map, UNTRUSTED_PEER, {"Cookie": VISITOR_COOKIE}) is before


def test_resolver_cache_page_learned(resolver: Callable[..., IdentityResolver]) -> None:
    pages = resolver(PAGE)
    headers = {"Cookie": f"SID=s1; {VISITOR_COOKIE}"}
    before = resolve(pages, UNTRUSTED_PEER, headers)
    assert pages.learn_from_page("s1", b'<b data-role="buyer"></b>')
    learned = resolve(pages, UNTRUSTED_PEER, headers)
    assert pages.learn_from_page("s1", b'<b data-role="approver"></b>')
    relearned = resolve(pages, UNTRUSTED_PEER, headers)
    assert before.roles == frozenset({"employee"})
    assert learned.roles == frozenset({"buyer"})
    assert relearned.roles == frozenset({"approver"})


def test_resolver_cache_page_expiry(resolver: Callable[..., IdentityResolver], clock: FakeClock) -> None:
    pages = resolver(PAGE)
    headers = {"Cookie": f"SID=s1; {VISITOR_COOKIE}"}
    pages.learn_from_page("s1", b'<b data-role="buyer"></b>')
    clock.advance(3000)
    learned = resolve(pages, UNTRUSTED_PEER, headers)
    clock.advance(601)
    expired = resolve(pages, UNTRUSTED_PEER, headers)
    assert learned.roles == frozenset({"buyer"})
    assert expired.roles == frozenset({"employee"})


def test_resolver_cache_skips_warnings(
    resolver: Callable[..., IdentityResolver], caplog: pytest.LogCaptureFixture
) -> None:
    headers = resolver("sources: [headers]")
    conflicting = {"X-Forwarded-User": "alice", "X-Remote-User": "bob"}
    with caplog.at_level(logging.WARNING, logger="proxy.identity.resolver"):
        identity = resolve(headers, TRUSTED_PEER, conflicting)
    assert identity.user is None
    assert len(headers.cache) == 0
    assert "conflicting values in X-Forwarded-User, X-Remote-User; ignoring them all" in caplog.text


def test_resolver_cache_not_for_jwt(resolver: Callable[..., IdentityResolver]) -> None:
    tokens = resolver("sources: [jwt]\njwt: {algorithms: [HS256], secret: 'hs256-test-secret-of-32-bytes-xx'}")
    resolve(tokens, UNTRUSTED_PEER, {"Cookie": VISITOR_COOKIE})
    assert len(tokens.cache) == 0
