"""The `page` source: roles and user names read from the app's own HTML pages, remembered per app session."""

from __future__ import annotations

import codecs
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import soupsieve
from bs4 import BeautifulSoup, Tag

from proxy.config.identity import PageSourceConfig, parse_role
from proxy.identity.headers import Report, clean_user
from proxy.identity.model import SourceResult
from proxy.identity.visitor import KeyedHash

MAX_ROLES = 100
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


@dataclass(frozen=True)
class Learned:
    """The user and roles that a page showed for a session, and when it was read (monotonic seconds)."""

    user: str | None
    roles: tuple[str, ...]
    learned_at: float


def decode_page(body: bytes, charset: str | None) -> str:
    """Decode a page prefix with its declared charset, else UTF-8, else windows-1252; never raises."""
    if body.startswith(codecs.BOM_UTF8):
        return body[len(codecs.BOM_UTF8) :].decode("utf-8", "replace")
    if charset:
        try:
            return body.decode(charset, "replace")
        except LookupError:
            pass
    try:
        # Not final: the copy may end inside a multi-byte character, which is dropped instead of failing.
        return codecs.getincrementaldecoder("utf-8")().decode(body, final=False)
    except UnicodeDecodeError:
        return body.decode("cp1252", "replace")


class PageReader:
    """Extracts the user name and roles from a page with the configured CSS selectors or regular expressions."""

    def __init__(self, settings: PageSourceConfig) -> None:
        self.settings = settings
        self._roles_selector = soupsieve.compile(settings.roles_selector) if settings.roles_selector else None
        self._user_selector = soupsieve.compile(settings.user_selector) if settings.user_selector else None
        self._roles_regex = re.compile(settings.roles_regex) if settings.roles_regex else None
        self._user_regex = re.compile(settings.user_regex) if settings.user_regex else None

    def read(self, body: bytes, charset: str | None = None) -> tuple[str | None, list[str]]:
        """Return (user name text or None, role texts) found in the page prefix `body`."""
        text = decode_page(body[: self.settings.max_bytes], charset)
        user: str | None = None
        roles: list[str] = []

        if self._roles_regex is not None:
            roles = [_regex_value(match) for match in self._roles_regex.finditer(text)]
        if self._user_regex is not None:
            match = self._user_regex.search(text)
            user = _regex_value(match) if match is not None else None

        if (self._roles_selector is not None or self._user_selector is not None) and "<" in text:
            # BeautifulSoup warns about XHTML parsed as HTML when it finds an XML declaration, so drop it first.
            soup = BeautifulSoup(_XML_DECLARATION.sub("", text, count=1), "lxml")
            if self._roles_selector is not None:
                elements = self._roles_selector.select(soup, limit=MAX_ROLES)
                roles = [_element_value(element, self.settings.roles_attribute) for element in elements]
            if self._user_selector is not None:
                element = self._user_selector.select_one(soup)
                user = _element_value(element, self.settings.user_attribute) if element is not None else None

        if self.settings.separator is not None:
            roles = [part for role in roles for part in role.split(self.settings.separator)]
        return user, [role.strip() for role in roles if role.strip()][:MAX_ROLES]


def _element_value(element: Tag, attribute: str | None) -> str:
    """Return an attribute's value, or the element's text with runs of white space collapsed."""
    if attribute is not None:
        value = element.get(attribute)
        if isinstance(value, list):
            return " ".join(value)
        return value or ""
    return " ".join(element.get_text(" ").split())


def _regex_value(match: re.Match[str]) -> str:
    return match.group(1) if match.re.groups else match.group(0)


class PageLearner:
    """Remembers the user and roles that pages showed, per app session, keyed by a keyed hash of the session cookie.

    Bounded to `max_sessions` entries (least recently learned dropped first); entries expire
    `ttl` seconds after they were learned. `learn` runs in worker threads while `lookup` runs on
    the event loop, so the cache is guarded by a lock that is never held while parsing.
    """

    name = "page"

    def __init__(
        self,
        app: str,
        settings: PageSourceConfig,
        secret: bytes,
        report: Report,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._session_hash = KeyedHash(secret, b"session\x00" + app.encode("utf-8"))
        self._report = report
        self._clock = clock
        self._reader = PageReader(settings)
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, Learned] = OrderedDict()
        self.version = 0
        """Incremented whenever a session's entry is added, replaced or removed, so callers can tell the cache changed."""

    def session_key(self, session_value: str) -> str:
        """Return the cache key of a session cookie value; the value itself is never stored."""
        return self._session_hash(session_value)

    def lookup(self, session_value: str) -> SourceResult | None:
        """Return what was learned for this session, or None when nothing is known or it expired."""
        return self.result(self.lookup_learned(session_value))

    def result(self, learned: Learned | None) -> SourceResult | None:
        """Return the user and roles of an entry as this source's result, or None when it has neither."""
        if learned is None or (learned.user is None and not learned.roles):
            return None
        return SourceResult(self.name, user=learned.user, roles=learned.roles)

    def lookup_learned(self, session_value: str) -> Learned | None:
        """Return the entry of this session, or None when nothing is known or it expired (and is then removed)."""
        key = self.session_key(session_value)
        now = self._clock()
        with self._lock:
            learned = self._sessions.get(key)
            if learned is None:
                return None
            if self.expired(learned.learned_at, now):
                del self._sessions[key]
                self.version += 1
                return None
        return learned

    def expired(self, learned_at: float, now: float) -> bool:
        """Return whether an entry learned at monotonic time `learned_at` is older than the ttl at `now`."""
        return now - learned_at > self.settings.ttl

    def needs_page(self, session_value: str) -> bool:
        """Return whether a page for this session should be read: nothing known, or older than `refresh`."""
        key = self.session_key(session_value)
        with self._lock:
            learned = self._sessions.get(key)
        return learned is None or self._clock() - learned.learned_at >= self.settings.refresh

    def learn(self, session_value: str, body: bytes, charset: str | None = None) -> SourceResult | None:
        """Read a page prefix and remember the user and roles it shows; return them, or None when it shows neither.

        A page that names neither user nor roles leaves what was learned before in place.
        """
        raw_user, raw_roles = self._reader.read(body, charset)
        user = clean_user(raw_user, self._report) if raw_user is not None else None
        roles: list[str] = []
        for role in raw_roles:
            try:
                roles.append(parse_role(role))
            except ValueError:
                self._report("a role read from the page is not a valid role name; skipped")
        if user is None and not roles:
            return None

        learned = Learned(user, tuple(dict.fromkeys(roles)), self._clock())
        key = self.session_key(session_value)
        with self._lock:
            self._sessions.pop(key, None)
            self._sessions[key] = learned
            while len(self._sessions) > self.settings.max_sessions:
                self._sessions.popitem(last=False)
            self.version += 1
        return SourceResult(self.name, user=learned.user, roles=learned.roles)
