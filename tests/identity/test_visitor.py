"""Tests of visitor ids: keyed hashes of user names, the random visitor cookie, and the secret they need."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import pytest

from proxy.config.identity import IdentityConfig, VisitorConfig
from proxy.identity import Identity, IdentityResolver
from proxy.identity import visitor as visitor_module

from .helpers import SECRET, TRUSTED_PEER, UNTRUSTED_PEER, FakeClock

COOKIE_VALUE = "A" * 32


def test_visitor_id_for_user_exact(resolver: Callable[..., IdentityResolver]) -> None:
    identity = resolver("sources: [headers]").resolve(TRUSTED_PEER, {"X-Forwarded-User": "alice"}, {}, secure=True)
    # HMAC-SHA256(key=SECRET, message=b"user\x00alice"), first 32 hex digits.
    assert identity.visitor_id == "u-cb3672212cc144136a334f5deeb1b353"
    assert identity.set_cookie is None


def test_visitor_id_for_cookie_exact(resolver: Callable[..., IdentityResolver]) -> None:
    identity = resolver("").resolve(UNTRUSTED_PEER, {}, {"guidegate_vid": COOKIE_VALUE}, secure=True)
    # HMAC-SHA256(key=SECRET, message=b"cookie\x00" + cookie value), first 32 hex digits.
    assert identity.visitor_id == "c-220a0db1f6e0c9a6098cb3709b159dcf"
    assert identity.set_cookie is None


@pytest.mark.parametrize(
    ("cookies", "secure", "flags"),
    [
        pytest.param({}, False, "; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax", id="new-plain"),
        pytest.param({}, True, "; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax; Secure", id="new-tls"),
        pytest.param(
            {"guidegate_vid": "short"}, True, "; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax; Secure", id="malformed"
        ),
    ],
)
def test_visitor_cookie_set(
    resolver: Callable[..., IdentityResolver], cookies: dict[str, str], secure: bool, flags: str
) -> None:
    identity = resolver("").resolve(UNTRUSTED_PEER, {}, cookies, secure=secure)
    assert identity.set_cookie is not None
    match = re.fullmatch(r"guidegate_vid=([A-Za-z0-9_-]{32})(.*)", identity.set_cookie)
    assert match is not None
    assert match.group(2) == flags
    again = resolver("").resolve(UNTRUSTED_PEER, {}, {"guidegate_vid": match.group(1)}, secure=secure)
    assert again.visitor_id == identity.visitor_id
    assert again.set_cookie is None


def test_visitor_cookie_configured(clock: FakeClock) -> None:
    visitor = VisitorConfig(secret=SECRET, cookie_name="gg_id", cookie_max_age=30 * 86400.0)
    identity = IdentityResolver("erp", IdentityConfig(), visitor=visitor, clock=clock).resolve(
        UNTRUSTED_PEER, {}, {}, secure=True
    )
    assert identity.set_cookie is not None
    value = identity.set_cookie.split(";")[0].removeprefix("gg_id=")
    assert identity.set_cookie == f"gg_id={value}; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax; Secure"


def test_visitor_development_secret(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(visitor_module, "_process_secret", None)
    settings = IdentityConfig(sources=("headers",))
    with caplog.at_level(logging.WARNING, logger="proxy.identity"):
        first = IdentityResolver("erp", settings, visitor=VisitorConfig(), trusted_proxies=())
        second = IdentityResolver("crm", settings, visitor=VisitorConfig(), trusted_proxies=())
    assert caplog.messages == [
        "visitor.secret is not set; using a random secret for this process (development mode), so visitor ids "
        "of known users change on every restart and differ between workers"
    ]
    assert first.resolve_for_cli("alice").visitor_id == second.resolve_for_cli("alice").visitor_id


def test_identity_hides_user() -> None:
    identity = Identity("u-1", "alice", frozenset({"buyer"}), ("headers",), "guidegate_vid=x")
    assert "alice" not in repr(identity)
    assert "guidegate_vid" not in repr(identity)
    assert identity.public_user() is None
    exposed = Identity("u-1", "alice", frozenset(), ("headers",), None, expose_user=True)
    assert exposed.public_user() == "alice"


def test_identity_expose_user_setting(resolver: Callable[..., IdentityResolver]) -> None:
    identity = resolver("sources: [headers]\nexpose_user: true").resolve(
        TRUSTED_PEER, {"X-Forwarded-User": "alice"}, {}, secure=False
    )
    assert identity.public_user() == "alice"
