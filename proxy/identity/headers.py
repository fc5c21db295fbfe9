"""The `headers` source: user, e-mail and groups set by an authenticating proxy in front."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from multidict import CIMultiDict, CIMultiDictProxy

from proxy.config.identity import HeaderSourceConfig
from proxy.identity.model import SourceResult

MAX_USER_LENGTH = 256
MAX_GROUPS = 1000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

Report = Callable[[str], None]
"""Callback that logs one failure of a source, rate-limited, given its reason."""


def header_values(headers: Mapping[str, str], name: str) -> list[str]:
    """Return every value of header `name`, compared case-insensitively, for multidicts and plain mappings."""
    if isinstance(headers, (CIMultiDict, CIMultiDictProxy)):
        return headers.getall(name, [])
    lowered = name.lower()
    return [value for key, value in headers.items() if key.lower() == lowered]


def clean_user(value: str, report: Report) -> str | None:
    """Return a user name stripped of surrounding spaces, or None (reported) when it is unusable."""
    user = value.strip()
    if not user:
        return None
    if len(user) > MAX_USER_LENGTH:
        report(f"user name longer than {MAX_USER_LENGTH} characters ignored")
        return None
    if _CONTROL.search(user):
        report("user name with control characters ignored")
        return None
    return user


def single_value(headers: Mapping[str, str], names: tuple[str, ...], report: Report) -> str | None:
    """Return the one value that the headers `names` agree on, or None when absent or contradictory.

    Two different values mean that something other than the proxy in front added a header (a
    proxy that appends instead of replacing), so neither value is believed.
    """
    found: dict[str, str] = {}
    for name in names:
        for value in header_values(headers, name):
            stripped = value.strip()
            if stripped:
                found.setdefault(stripped, name)
    if len(found) > 1:
        report(f"conflicting values in {', '.join(sorted(set(found.values())))}; ignoring them all")
        return None
    return next(iter(found), None)


class HeaderSource:
    """Reads identity headers; the caller must pass only requests from trusted peers."""

    name = "headers"

    def __init__(self, settings: HeaderSourceConfig, report: Report) -> None:
        self.settings = settings
        self._report = report

    def read(self, headers: Mapping[str, str]) -> SourceResult | None:
        """Return the user and groups the headers carry, or None when they carry neither."""
        user_value = single_value(headers, self.settings.user, self._report)
        if user_value is None and self.settings.email_as_user:
            user_value = single_value(headers, self.settings.email, self._report)
        user = clean_user(user_value, self._report) if user_value is not None else None

        groups_value = single_value(headers, self.settings.groups, self._report)
        groups: list[str] = []
        if groups_value is not None:
            parts = (part.strip() for part in groups_value.split(self.settings.group_separator))
            groups = [group for group in dict.fromkeys(parts) if group]
        if len(groups) > MAX_GROUPS:
            self._report(f"more than {MAX_GROUPS} groups; keeping the first {MAX_GROUPS}")
            groups = groups[:MAX_GROUPS]

        if user is None and not groups:
            return None
        return SourceResult(self.name, user=user, groups=tuple(groups))
