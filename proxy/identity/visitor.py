"""Pseudonymous visitor ids: keyed hashes of user names, or of a random first-party cookie."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
from collections.abc import Mapping

from proxy.config.identity import VisitorConfig
from proxy.identity.model import IdentityConfigError

logger = logging.getLogger(__name__)

_COOKIE_VALUE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
_process_secret: bytes | None = None
_process_secret_lock = threading.Lock()


def development_secret() -> bytes:
    """Return this process's random secret, created (with one warning) on first use."""
    global _process_secret
    with _process_secret_lock:
        if _process_secret is None:
            _process_secret = secrets.token_bytes(32)
            logger.warning(
                "visitor.secret is not set; using a random secret for this process (development mode), "
                "so visitor ids of known users change on every restart and differ between workers"
            )
        return _process_secret


def visitor_secret(settings: VisitorConfig, mode: str) -> bytes:
    """Return the HMAC key for visitor ids; raise IdentityConfigError when production mode has none."""
    if settings.secret:
        return settings.secret.encode("utf-8")
    if mode == "production":
        raise IdentityConfigError(
            "visitor.secret is not set in production mode; expected a secret of at least 32 characters, "
            "e.g. secret: ${GUIDEGATE_SECRET}"
        )
    return development_secret()


def keyed_hash(secret: bytes, purpose: bytes, value: str) -> str:
    """Return the first 32 hex digits of HMAC-SHA256(secret, purpose + NUL + value)."""
    message = purpose + b"\x00" + value.encode("utf-8", "surrogatepass")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]


class VisitorIds:
    """Makes visitor ids and the visitor cookie for one deployment."""

    def __init__(self, secret: bytes, settings: VisitorConfig) -> None:
        self._secret = secret
        self.cookie_name = settings.cookie_name
        self.cookie_max_age = int(settings.cookie_max_age)

    def for_user(self, user: str) -> str:
        """Return the visitor id of a known user: 'u-' and a keyed hash of the user name."""
        return "u-" + keyed_hash(self._secret, b"user", user)

    def for_cookie(self, cookies: Mapping[str, str], secure: bool) -> tuple[str, str | None]:
        """Return (visitor id, Set-Cookie value or None) for an anonymous visitor.

        A missing or malformed cookie gets a new random value and a Set-Cookie header. The id is a
        keyed hash of the cookie value, so stored ids cannot be replayed as cookies.
        """
        value = cookies.get(self.cookie_name)
        set_cookie = None
        if value is None or not _COOKIE_VALUE.match(value):
            value = secrets.token_urlsafe(24)
            set_cookie = self.set_cookie_header(value, secure)
        return "c-" + keyed_hash(self._secret, b"cookie", value), set_cookie

    def set_cookie_header(self, value: str, secure: bool) -> str:
        """Return the Set-Cookie header value that stores `value` as the visitor cookie."""
        header = f"{self.cookie_name}={value}; Path=/; Max-Age={self.cookie_max_age}; HttpOnly; SameSite=Lax"
        return header + "; Secure" if secure else header
