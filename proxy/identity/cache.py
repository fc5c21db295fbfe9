"""A bounded cache of resolved identities, keyed by a digest of the request values that identity resolution reads."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from proxy.identity.headers import header_values
from proxy.identity.model import Identity
from proxy.identity.rolemap import RoleMap

MAX_ENTRIES = 4096
"""Identities kept per app; the least recently used is dropped first."""


@dataclass(frozen=True, slots=True)
class CachedIdentity:
    """The result of resolving one set of request values, and the state of the sources it depended on.

    `identity` is None for an anonymous visitor without a valid visitor cookie: each of those
    requests gets a new cookie, so only `roles` and `sources` are reused.
    """

    identity: Identity | None
    roles: frozenset[str]
    sources: tuple[str, ...]
    role_map: RoleMap | None
    """The map file content the roles were looked up in, or None when no map lookup was made."""
    page_version: int | None
    """PageLearner.version when a session cookie was looked up, or None when none was."""
    page_learned_at: float | None
    """When the page that gave roles or the user was read (monotonic seconds), or None."""


def request_key(trusted: bool, headers: Mapping[str, str], names: Iterable[str]) -> bytes | None:
    """Return a digest of the peer's trust and every value of the headers `names`, or None when it cannot be built.

    Values are joined with a newline after each value and a NUL after each header, so two
    different sets of values never give the same text. A value that contains either character
    (which HTTP header values cannot) gives None, and the request is resolved without the cache.
    The cache keeps only the BLAKE2b digest, never a cookie or credential.
    """
    parts = ["1" if trusted else "0", "\x00"]
    found = False
    for name in names:
        for value in header_values(headers, name):
            if "\n" in value or "\x00" in value:
                return None
            parts.append(value)
            parts.append("\n")
            found = True
        parts.append("\x00")
    if not found:
        # A request without any of the headers (a first visit): no text to hash but the trust.
        return _NO_VALUES[trusted]
    return _digest("".join(parts))


def _digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


# The keys of requests without any of the headers: digests of texts that end in \x01, while every
# text built from header values ends in a NUL.
_NO_VALUES = {True: _digest("1\x00\x01"), False: _digest("0\x00\x01")}


class IdentityCache:
    """A least-recently-used mapping of request keys to CachedIdentity, at most `max_entries` long.

    Not thread-safe: use it from the event loop only.
    """

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[bytes, CachedIdentity] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes) -> CachedIdentity | None:
        """Return the entry of `key` and mark it as the most recently used, or None."""
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: bytes, entry: CachedIdentity) -> None:
        """Store `entry`, dropping the least recently used entries beyond `max_entries`."""
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def discard(self, key: bytes) -> None:
        """Remove the entry of `key`, if any."""
        self._entries.pop(key, None)
