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


class KeyedHash:
    """`keyed_hash` for one secret and purpose, with the key and the purpose hashed once instead of per value.

    HMAC-SHA256(K, m) is SHA-256((K' xor opad) + SHA-256((K' xor ipad) + m)), K' being the key
    padded to SHA-256's 64-byte block (RFC 2104). The two padded-key blocks, and the purpose in
    front of every message, are hashed here; each call continues copies of those states.
    """

    def __init__(self, secret: bytes, purpose: bytes) -> None:
        block = hashlib.sha256().block_size
        key = hashlib.sha256(secret).digest() if len(secret) > block else secret
        key = key.ljust(block, b"\x00")
        self._inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in key))
        self._inner.update(purpose + b"\x00")
        self._outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in key))

    def __call__(self, value: str) -> str:
        """Return the first 32 hex digits of HMAC-SHA256(secret, purpose + NUL + value)."""
        inner = self._inner.copy()
        inner.update(value.encode("utf-8", "surrogatepass"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()[:32]


class VisitorIds:
    """Makes visitor ids and the visitor cookie for one deployment."""

    def __init__(self, secret: bytes, settings: VisitorConfig) -> None:
        self._user_hash = KeyedHash(secret, b"user")
        self._cookie_hash = KeyedHash(secret, b"cookie")
        self.cookie_name = settings.cookie_name
        self.cookie_max_age = int(settings.cookie_max_age)
        self._cookie_attributes = f"; Path=/; Max-Age={self.cookie_max_age}; HttpOnly; SameSite=Lax"

    def for_user(self, user: str) -> str:
        """Return the visitor id of a known user: 'u-' and a keyed hash of the user name."""
        return "u-" + self._user_hash(user)

    def for_cookie(self, cookies: Mapping[str, str], secure: bool) -> tuple[str, str | None]:
        """Return (visitor id, Set-Cookie value or None) for an anonymous visitor.

        A missing or malformed cookie gets a new random value and a Set-Cookie header. The id is a
        keyed hash of the cookie value, so stored ids cannot be replayed as cookies.
        """
        value = cookies.get(self.cookie_name)
        if value is None or not _COOKIE_VALUE.match(value):
            return self.new_cookie(secure)
        return "c-" + self._cookie_hash(value), None

    def new_cookie(self, secure: bool) -> tuple[str, str]:
        """Return (visitor id, Set-Cookie value) for a new random visitor cookie."""
        value = secrets.token_urlsafe(24)
        return "c-" + self._cookie_hash(value), self.set_cookie_header(value, secure)

    def set_cookie_header(self, value: str, secure: bool) -> str:
        """Return the Set-Cookie header value that stores `value` as the visitor cookie."""
        header = f"{self.cookie_name}={value}{self._cookie_attributes}"
        return header + "; Secure" if secure else header
