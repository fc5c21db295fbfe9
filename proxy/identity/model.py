"""Results of identity resolution: the visitor's identity, each source's findings, and the configuration error."""

from __future__ import annotations

from dataclasses import dataclass, field

from proxy.errors import GuidegateError


class IdentityConfigError(GuidegateError):
    """The identity settings of an app cannot be put to use (missing secret, unreadable key or map file)."""


@dataclass(frozen=True, slots=True, init=False)
class Identity:
    """The visitor behind one request, as far as the configured sources can tell.

    `user` is the raw user name for rule matching inside the proxy. Store or send it only through
    `public_user()`, which honours the app's `expose_user` setting. `set_cookie` is a Set-Cookie
    header value to add to the response when the visitor got a new visitor cookie.
    """

    visitor_id: str
    user: str | None = field(repr=False)
    roles: frozenset[str]
    sources: tuple[str, ...]
    set_cookie: str | None = field(default=None, repr=False)
    expose_user: bool = False

    # Written out instead of generated: a frozen dataclass's own __init__ sets each field through
    # object.__setattr__, about twice the work of the slot setters below, once per captured request.
    def __init__(
        self,
        visitor_id: str,
        user: str | None,
        roles: frozenset[str],
        sources: tuple[str, ...],
        set_cookie: str | None = None,
        expose_user: bool = False,
    ) -> None:
        _set_visitor_id(self, visitor_id)
        _set_user(self, user)
        _set_roles(self, roles)
        _set_sources(self, sources)
        _set_set_cookie(self, set_cookie)
        _set_expose_user(self, expose_user)

    def public_user(self) -> str | None:
        """Return the user name when the app allows storing and showing it, otherwise None."""
        return self.user if self.expose_user else None


# The slots' own setters, which write a field of a frozen instance without object.__setattr__.
_set_visitor_id, _set_user, _set_roles, _set_sources, _set_set_cookie, _set_expose_user = (
    getattr(Identity, slot).__set__ for slot in ("visitor_id", "user", "roles", "sources", "set_cookie", "expose_user")
)


@dataclass(frozen=True)
class SourceResult:
    """The findings of one source for one request: a user name, groups still to be mapped, and roles."""

    source: str
    user: str | None = None
    groups: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
