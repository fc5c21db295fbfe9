"""Admin authentication: a bearer token from the configuration, or a role listed in admin.roles."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable

from aiohttp import web

from proxy.config import Config

logger = logging.getLogger(__name__)

ADMIN_COOKIE = "guidegate_admin"
"""Cookie that carries the admin token after a dashboard link with `?token=` was opened."""

RolesOf = Callable[[web.Request], frozenset[str]]


class AdminAuth:
    """Checks admin credentials; with no token and no admin roles configured, no request is an admin's.

    A token is accepted from `Authorization: Bearer`, the admin cookie, or a `token` query
    parameter (the link the demo prints); it is compared in constant time.
    """

    def __init__(self, config: Config, roles_of: RolesOf | None = None) -> None:
        self._token = config.admin.token.encode("utf-8") if config.admin.token else None
        self._roles = frozenset(config.admin.roles)
        self._roles_of = roles_of
        self.secure_cookie = False

    @property
    def enabled(self) -> bool:
        """Whether any admin credential is configured."""
        return self._token is not None or bool(self._roles)

    def presented_token(self, request: web.Request) -> str | None:
        """Return the token a request carries, wherever it carries it."""
        authorization = request.headers.get("Authorization", "")
        if authorization[:7].lower() == "bearer ":
            return authorization[7:].strip()
        return request.cookies.get(ADMIN_COOKIE) or request.query.get("token")

    def token_ok(self, request: web.Request) -> bool:
        """Return whether the request carries the configured admin token."""
        if self._token is None:
            return False
        presented = self.presented_token(request)
        return presented is not None and hmac.compare_digest(presented.encode("utf-8"), self._token)

    def is_admin(self, request: web.Request) -> bool:
        """Return whether the request comes from an admin (token, or a role in admin.roles)."""
        if self.token_ok(request):
            return True
        if self._roles and self._roles_of is not None:
            try:
                return bool(self._roles & self._roles_of(request))
            except web.HTTPException:
                return False
        return False
