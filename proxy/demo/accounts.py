"""Demo users, their roles, what each role may do, and the in-memory table of signed-in sessions."""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from enum import Enum, StrEnum

logger = logging.getLogger(__name__)

SESSION_COOKIE = "DEMOSESSION"
"""Name of the cookie that carries the session token (HttpOnly, Path=/)."""


class Role(StrEnum):
    """A role in the purchasing department; the value is the role key rules can match."""

    CLERK = "clerk"
    MANAGER = "manager"
    APPROVER = "approver"


ROLE_TITLES: dict[Role, str] = {
    Role.CLERK: "Purchasing clerk",
    Role.MANAGER: "Purchasing manager",
    Role.APPROVER: "Budget approver",
}
"""The role names the pages show, e.g. in "Signed in as Carla Clerk (Purchasing clerk)"."""


class Permission(Enum):
    """An action that only some roles may take; the value completes the phrase "may ..."."""

    CREATE_VENDOR = "create vendors"
    RAISE_ORDER = "raise purchase orders"
    SUBMIT_ORDER = "submit purchase orders for approval"
    CANCEL_ORDER = "cancel purchase orders"
    DECIDE_ORDER = "approve or reject purchase orders"
    VIEW_REPORTS = "view reports"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.CLERK: frozenset(
        {Permission.CREATE_VENDOR, Permission.RAISE_ORDER, Permission.SUBMIT_ORDER, Permission.CANCEL_ORDER}
    ),
    Role.MANAGER: frozenset({Permission.VIEW_REPORTS}),
    Role.APPROVER: frozenset({Permission.DECIDE_ORDER}),
}


@dataclass(frozen=True)
class DemoUser:
    """A demo account. Passwords are public on purpose: the demo command prints them."""

    username: str
    password: str
    full_name: str
    role: Role

    @property
    def role_title(self) -> str:
        return ROLE_TITLES[self.role]

    @property
    def signed_in_text(self) -> str:
        """The text every page shows in its `whoami` cell."""
        return f"Signed in as {self.full_name} ({self.role_title})"

    def may(self, permission: Permission) -> bool:
        """Return whether this user's role grants `permission`."""
        return permission in ROLE_PERMISSIONS[self.role]


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser(username="clerk", password="clerk", full_name="Carla Clerk", role=Role.CLERK),
    DemoUser(username="manager", password="manager", full_name="Max Manager", role=Role.MANAGER),
    DemoUser(username="approver", password="approver", full_name="Anna Approver", role=Role.APPROVER),
)
"""The three demo accounts, one per role, in the order the demo command lists them."""


def authenticate(username: str, password: str) -> DemoUser | None:
    """Return the demo user with these credentials, or None if they match no account."""
    for user in DEMO_USERS:
        if user.username == username and hmac.compare_digest(user.password.encode(), password.encode()):
            return user
    return None


def roles_with(permission: Permission) -> list[Role]:
    """Return the roles that grant `permission`, in declaration order."""
    return [role for role in Role if permission in ROLE_PERMISSIONS[role]]


class Sessions:
    """Session tokens of signed-in users, kept in memory so that every start begins signed out."""

    def __init__(self) -> None:
        self._users: dict[str, DemoUser] = {}

    def start(self, user: DemoUser) -> str:
        """Open a session for `user` and return its token."""
        token = secrets.token_hex(16)
        self._users[token] = user
        logger.info("demo session started for user %s", user.username)
        return token

    def user(self, token: str | None) -> DemoUser | None:
        """Return the user of the session `token`, or None if there is no such session."""
        if token is None:
            return None
        return self._users.get(token)

    def end(self, token: str | None) -> None:
        """Close the session `token`; an unknown token is ignored."""
        if token is None:
            return
        user = self._users.pop(token, None)
        if user is not None:
            logger.info("demo session ended for user %s", user.username)
