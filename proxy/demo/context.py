"""Per-application state of the demo app and the access checks that its handlers start with."""

from __future__ import annotations

import logging

from aiohttp import web

from proxy.demo.accounts import SESSION_COOKIE, DemoUser, Permission, Sessions
from proxy.demo.store import Store

logger = logging.getLogger(__name__)

STORE_KEY: web.AppKey[Store] = web.AppKey("demo_store", Store)
SESSIONS_KEY: web.AppKey[Sessions] = web.AppKey("demo_sessions", Sessions)


class LoginRequired(Exception):
    """The request carries no valid session, so the app responds with a redirect to the sign-in page."""


class AccessDenied(Exception):
    """The signed-in user's role lacks a permission, so the app responds 403 with a page."""

    def __init__(self, user: DemoUser, permission: Permission) -> None:
        super().__init__(f"{user.username} may not {permission.value}")
        self.user = user
        self.permission = permission


class PageNotFound(Exception):
    """A vendor, order or page does not exist, so the app responds 404 with `message` in a page."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def demo_store(request: web.Request) -> Store:
    """Return the data store of the app serving `request`."""
    return request.app[STORE_KEY]


def signed_in_user(request: web.Request) -> DemoUser | None:
    """Return the user whose session cookie `request` carries, or None."""
    return request.app[SESSIONS_KEY].user(request.cookies.get(SESSION_COOKIE))


def require_user(request: web.Request) -> DemoUser:
    """Return the signed-in user; raise LoginRequired if there is none."""
    user = signed_in_user(request)
    if user is None:
        raise LoginRequired()
    return user


def require_permission(request: web.Request, permission: Permission) -> DemoUser:
    """Return the signed-in user if the role grants `permission`; raise LoginRequired or AccessDenied."""
    user = require_user(request)
    if not user.may(permission):
        logger.info("demo user %s denied %s %s: role %s lacks it", user.username, request.method, request.path, user.role)
        raise AccessDenied(user, permission)
    return user


async def read_form(request: web.Request) -> dict[str, str]:
    """Read a submitted form as text fields; the first value of a repeated field wins, file uploads are dropped."""
    fields: dict[str, str] = {}
    for name, value in (await request.post()).items():
        if isinstance(value, str) and name not in fields:
            fields[name] = value
    return fields
