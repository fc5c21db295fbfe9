"""The `basic` and `digest` sources: the user name of an HTTP `Authorization` header, never the password."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from urllib.parse import unquote

from proxy.identity.headers import MAX_USER_LENGTH, Report, clean_user, header_values
from proxy.identity.model import SourceResult

MAX_CREDENTIALS_LENGTH = 8192
"""Longer Authorization values are ignored unread."""

_AUTH_PARAM = re.compile(
    r"""\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*)\s*(?:,|$)""", re.DOTALL
)
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)


def _credentials(headers: Mapping[str, str], scheme: str) -> str | None:
    """Return the part after `scheme` of the Authorization header, when it uses that scheme."""
    for value in header_values(headers, "Authorization"):
        found, _, rest = value.strip().partition(" ")
        if found.lower() == scheme:
            return rest.strip()
    return None


def _decode_name(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def basic_user_name(credentials: str) -> str | None:
    """Return the user name of Basic credentials (base64 of `user:password`), or None when malformed.

    Decodes the base64 text four characters (three bytes) at a time and stops at the first ':',
    so at most two bytes of the password are ever decoded, and they are not kept.
    """
    encoded = credentials.strip()
    if not encoded or len(encoded) > MAX_CREDENTIALS_LENGTH:
        return None
    if len(encoded) % 4:
        encoded += "=" * (-len(encoded) % 4)
    if "=" in encoded.rstrip("="):
        return None

    name = bytearray()
    for start in range(0, len(encoded), 4):
        try:
            chunk = base64.b64decode(encoded[start : start + 4], validate=True)
        except binascii.Error:
            return None
        colon = chunk.find(b":")
        if colon >= 0:
            name += chunk[:colon]
            return _decode_name(bytes(name))
        name += chunk
        if len(name) > MAX_USER_LENGTH * 4:
            return None
    return None


def digest_user_name(credentials: str) -> tuple[str | None, str | None]:
    """Return (user name, problem) from Digest credentials; other parameters are skipped unread.

    Handles `username="..."` with backslash escapes and `username*=UTF-8''...` (RFC 7616); a
    hashed user name (`userhash=true`) cannot be used and is reported as the problem.
    """
    if len(credentials) > MAX_CREDENTIALS_LENGTH:
        return None, "Digest credentials too long"
    parameters: dict[str, str] = {}
    for match in _AUTH_PARAM.finditer(credentials):
        key = match.group(1).lower()
        if key in ("username", "username*", "userhash"):
            parameters.setdefault(key, match.group(2))
    if parameters.get("userhash", "").strip('"').lower() == "true":
        return None, "Digest user name is hashed (userhash=true)"
    if "username*" in parameters:
        charset, _, rest = parameters["username*"].partition("'")
        _, _, encoded = rest.partition("'")
        try:
            return unquote(encoded, encoding=charset or "utf-8", errors="strict"), None
        except (LookupError, UnicodeDecodeError):
            return None, "Digest username* is not valid percent-encoded text"
    value = parameters.get("username")
    if value is None:
        return None, "Digest credentials without username"
    if value.startswith('"') and value.endswith('"') and len(value) >= 2:
        value = _QUOTED_PAIR.sub(r"\1", value[1:-1])
    return value, None


class AuthorizationSource:
    """Reads the user name of Basic (`name="basic"`) or Digest (`name="digest"`) credentials."""

    def __init__(self, name: str, report: Report) -> None:
        if name not in ("basic", "digest"):
            raise ValueError(f"unknown Authorization scheme {name!r}; expected 'basic' or 'digest'")
        self.name = name
        self.report = report

    def present(self, headers: Mapping[str, str]) -> bool:
        """Return whether the request carries credentials of this scheme."""
        return _credentials(headers, self.name) is not None

    def read(self, headers: Mapping[str, str]) -> SourceResult | None:
        """Return the user name of the credentials, or None when there are none or they are malformed."""
        credentials = _credentials(headers, self.name)
        if credentials is None:
            return None
        if self.name == "basic":
            raw = basic_user_name(credentials)
            if raw is None:
                self.report("malformed Basic credentials")
                return None
        else:
            raw, problem = digest_user_name(credentials)
            if raw is None:
                self.report(problem or "malformed Digest credentials")
                return None
        user = clean_user(raw, self.report)
        return SourceResult(self.name, user=user) if user is not None else None
