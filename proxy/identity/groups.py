"""Group-to-role mapping: exact group names and regular expressions, with captured groups in role names."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from proxy.config.identity import GroupRoleRule, parse_role
from proxy.identity.headers import Report


class GroupRoleMapper:
    """Turns group names into roles by every matching rule; results are cached per group list."""

    def __init__(self, rules: Sequence[GroupRoleRule], keep_unmapped: bool, report: Report) -> None:
        self._exact: dict[str, list[str]] = {}
        self._patterns: list[tuple[re.Pattern[str], tuple[str, ...]]] = []
        for rule in rules:
            if rule.group is not None:
                self._exact.setdefault(rule.group, []).extend(rule.roles)
            elif rule.pattern is not None:
                self._patterns.append((re.compile(rule.pattern), rule.roles))
        self._keep_unmapped = keep_unmapped
        self._report = report
        self.roles_for = functools.lru_cache(maxsize=1024)(self._roles_for)

    def _roles_for(self, groups: tuple[str, ...]) -> tuple[str, ...]:
        """Return the roles for `groups`, in rule order, each once."""
        roles: list[str] = []
        for group in groups:
            matched = group in self._exact
            roles.extend(self._exact.get(group, ()))
            for pattern, templates in self._patterns:
                match = pattern.fullmatch(group)
                if match is None:
                    continue
                matched = True
                for template in templates:
                    try:
                        roles.append(parse_role(match.expand(template)))
                    except (ValueError, IndexError, re.error):
                        self._report(f"pattern {pattern.pattern!r} made an invalid role name from a group; skipped")
            if not matched and self._keep_unmapped:
                try:
                    roles.append(parse_role(group))
                except ValueError:
                    self._report("a group name is not a valid role name; skipped")
        return tuple(dict.fromkeys(roles))
