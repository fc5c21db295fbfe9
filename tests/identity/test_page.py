"""Tests of the `page` source: roles read from the app's pages follow the app session and expire."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from proxy.config.identity import PageSourceConfig
from proxy.identity import IdentityResolver
from proxy.identity.page import PageReader, decode_page

from .helpers import UNTRUSTED_PEER, FakeClock

PAGE = (
    b"<!DOCTYPE html><html><head><title>ERP</title></head><body>"
    b'<div id="user-menu"><span class="name">Alice  Smith</span>'
    b'<ul><li class="role" data-role="buyer">Buyer</li><li class="role" data-role="approver">Approver</li></ul>'
    b'<script>var roles = "clerk,auditor";</script></div></body></html>'
)


@pytest.mark.parametrize(
    ("settings", "body", "charset", "expected"),
    [
        pytest.param(
            {"roles_selector": "#user-menu .role", "user_selector": ".name"},
            PAGE,
            None,
            ("Alice Smith", ["Buyer", "Approver"]),
            id="selector-text",
        ),
        pytest.param(
            {"roles_selector": "li.role", "roles_attribute": "data-role"},
            PAGE,
            None,
            (None, ["buyer", "approver"]),
            id="selector-attribute",
        ),
        pytest.param(
            {"roles_regex": r'var roles = "([^"]*)"', "separator": ","},
            PAGE,
            None,
            (None, ["clerk", "auditor"]),
            id="regex-group-separator",
        ),
        pytest.param({"roles_regex": r"Buyer|Approver"}, PAGE, None, (None, ["Buyer", "Approver"]), id="regex-whole"),
        pytest.param(
            {"user_regex": r'class="name">([^<]+)<'}, PAGE, None, ("Alice  Smith", []), id="regex-user"
        ),
        pytest.param(
            {"roles_selector": ".role"},
            b'<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><body><p class="role">clerk</p></body></html>',
            None,
            (None, ["clerk"]),
            id="xhtml-declaration",
        ),
        pytest.param(
            {"roles_selector": ".role"},
            '<p class="role">Einkäufer</p>'.encode("cp1252"),
            "windows-1252",
            (None, ["Einkäufer"]),
            id="declared-charset",
        ),
        pytest.param(
            {"roles_selector": ".role"},
            '<p class="role">Einkäufer</p>'.encode("cp1252"),
            None,
            (None, ["Einkäufer"]),
            id="legacy-fallback",
        ),
        pytest.param({"roles_selector": ".role"}, b"index.html", None, (None, []), id="not-html"),
        pytest.param({"roles_selector": ".none"}, PAGE, None, (None, []), id="no-match"),
    ],
)
def test_page_reader(
    settings: dict[str, str], body: bytes, charset: str | None, expected: tuple[str | None, list[str]]
) -> None:
    reader = PageReader(PageSourceConfig(session_cookie="JSESSIONID", **settings))  # type: ignore[arg-type]
    assert reader.read(body, charset) == expected


@pytest.mark.parametrize(
    ("body", "text"),
    [
        pytest.param("grün".encode(), "grün", id="utf-8"),
        pytest.param("grün".encode()[:-1], "grü", id="cut-inside-character"),
        pytest.param(b"\xef\xbb\xbfok", "ok", id="bom"),
        pytest.param("grün".encode("latin-1"), "grün", id="windows-1252"),
    ],
)
def test_page_decode(body: bytes, text: str) -> None:
    assert decode_page(body, None) == text


SECTION = """
    sources: [page]
    page:
      session_cookie: JSESSIONID
      roles_selector: "li.role"
      roles_attribute: data-role
      user_selector: .name
      ttl: 1h
      refresh: 60s
      max_sessions: 2
"""


@pytest.fixture
def learner(resolver: Callable[..., IdentityResolver]) -> IdentityResolver:
    return resolver(SECTION)


def roles_of(resolve: IdentityResolver, session: str) -> frozenset[str]:
    return resolve.resolve(UNTRUSTED_PEER, {}, {"JSESSIONID": session}, secure=False).roles


def test_page_follows_session(learner: IdentityResolver) -> None:
    assert learner.learn_from_page("session-a", PAGE) is True
    identity = learner.resolve(UNTRUSTED_PEER, {}, {"JSESSIONID": "session-a"}, secure=False)
    assert identity.user == "Alice Smith"
    assert identity.roles == frozenset({"buyer", "approver"})
    assert identity.sources == ("page",)
    assert identity.set_cookie is None
    assert roles_of(learner, "session-b") == frozenset()
    assert learner.resolve(UNTRUSTED_PEER, {}, {}, secure=False, session_cookie_value="session-a").user == "Alice Smith"


def test_page_expires(learner: IdentityResolver, clock: FakeClock) -> None:
    learner.learn_from_page("session-a", PAGE)
    clock.advance(3600)
    assert roles_of(learner, "session-a") == frozenset({"buyer", "approver"})
    clock.advance(1)
    assert roles_of(learner, "session-a") == frozenset()


def test_page_bounded(learner: IdentityResolver, clock: FakeClock) -> None:
    for session in ("s1", "s2", "s3"):
        learner.learn_from_page(session, PAGE)
        clock.advance(1)
    assert roles_of(learner, "s1") == frozenset()
    assert roles_of(learner, "s2") == frozenset({"buyer", "approver"})
    assert roles_of(learner, "s3") == frozenset({"buyer", "approver"})


def test_page_silent_page_keeps_roles(learner: IdentityResolver) -> None:
    learner.learn_from_page("session-a", PAGE)
    assert learner.learn_from_page("session-a", b"<html><body>Saved.</body></html>") is False
    assert roles_of(learner, "session-a") == frozenset({"buyer", "approver"})


def test_page_session_refresh(learner: IdentityResolver, clock: FakeClock) -> None:
    cookies = {"JSESSIONID": "session-a"}
    assert learner.page_max_bytes == 64 * 1024
    assert learner.page_session({}) is None
    assert learner.page_session(cookies) == "session-a"
    learner.learn_from_page("session-a", PAGE)
    assert learner.page_session(cookies) is None
    clock.advance(60)
    assert learner.page_session(cookies) == "session-a"


def test_page_session_key_hashed(learner: IdentityResolver) -> None:
    learner.learn_from_page("session-secret-value", PAGE)
    stored = list(learner._pages._sessions) if learner._pages is not None else []  # noqa: SLF001
    assert len(stored) == 1
    assert "session-secret-value" not in stored[0]
    assert len(stored[0]) == 32


async def test_page_learn_async(learner: IdentityResolver) -> None:
    assert await learner.learn_from_page_async("session-a", PAGE) is True
    assert roles_of(learner, "session-a") == frozenset({"buyer", "approver"})


def test_page_not_configured(resolver: Callable[..., IdentityResolver]) -> None:
    resolve = resolver("")
    assert resolve.page_max_bytes == 0
    assert resolve.page_session({"JSESSIONID": "a"}) is None
    assert resolve.learn_from_page("a", PAGE) is False
