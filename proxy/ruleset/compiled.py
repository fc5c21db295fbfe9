"""URL patterns compiled for one app's case sensitivity: matching a request against them and explaining misses."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from proxy.ruleset.patterns import PARAMETER_TYPES, PathPattern, QueryCondition, RequestPattern


class CompiledPath:
    """A path pattern compiled for one app's case sensitivity."""

    __slots__ = ("pattern", "exact", "_regex", "_flags", "_converters", "case_sensitive")

    def __init__(self, pattern: PathPattern, case_sensitive: bool) -> None:
        self.pattern = pattern
        self.case_sensitive = case_sensitive
        self._flags = 0 if case_sensitive else re.IGNORECASE
        self.exact = pattern.exact if case_sensitive or pattern.exact is None else pattern.exact.casefold()
        # Compiled on first use: a rule set contains thousands of patterns that a request never
        # reaches, and an exact pattern is compared as text and needs no regex at all.
        self._regex: re.Pattern[str] | None = None
        self._converters = {
            name: PARAMETER_TYPES[kind][1] for name, kind in pattern.parameters if PARAMETER_TYPES[kind][1] is not str
        }

    def match(self, path: str) -> dict[str, Any] | None:
        """Return the captured parameters when `path` matches, else None."""
        if self.exact is not None:
            candidate = path if self.case_sensitive else path.casefold()
            return {} if candidate == self.exact else None
        regex = self._regex
        if regex is None:
            regex = self._regex = re.compile(self.pattern.regex, self._flags)
        found = regex.fullmatch(path)
        if found is None:
            return None
        groups = found.groupdict()
        if not self._converters:
            return groups
        return {name: self._converters[name](value) if name in self._converters else value for name, value in groups.items()}

    def explain(self, path: str) -> tuple[str, bool] | None:
        """Return why `path` does not match and whether it came close, or None when it matches."""
        if self.match(path) is not None:
            return None
        if self.pattern.loose is not None:
            found = re.fullmatch(self.pattern.loose, path, self._flags)
            if found is not None:
                for name, kind in self.pattern.parameters:
                    value = found.group(name) or ""
                    if not re.fullmatch(PARAMETER_TYPES[kind][0], value, self._flags):
                        noun = PARAMETER_TYPES[kind][2]
                        return f"path {path}: parameter {name} is not {noun}", True
        return f"path {path} does not match {self.pattern.source}", False


class CompiledRequest:
    """A request pattern compiled for matching: path, methods and query conditions."""

    __slots__ = ("path", "methods", "query", "case_sensitive")

    def __init__(
        self,
        pattern: RequestPattern | None,
        case_sensitive: bool,
        *,
        path: PathPattern | None = None,
        methods: tuple[str, ...] = (),
        query: Mapping[str, QueryCondition] | None = None,
    ) -> None:
        """Compile `pattern`, or, for workflow steps and exclusions, `path`, `methods` and `query`."""
        if pattern is not None:
            path, methods, query = pattern.path, pattern.methods, pattern.query
        if path is None:
            raise TypeError("CompiledRequest needs a pattern or a path")
        self.path = CompiledPath(path, case_sensitive)
        self.methods = None if not methods or "*" in methods else frozenset(methods)
        self.query = tuple((query or {}).items())
        self.case_sensitive = case_sensitive

    def matches_rest(self, method: str, query: Mapping[str, str] | None) -> bool:
        """Whether method and query conditions hold (the path is checked by the caller)."""
        if self.methods is not None and method not in self.methods:
            return False
        if self.query:
            lookup = _query_lookup(query, self.case_sensitive)
            for name, condition in self.query:
                key = name if self.case_sensitive else name.casefold()
                if not condition.test(lookup.get(key), self.case_sensitive):
                    return False
        return True

    def match(self, method: str, path: str, query: Mapping[str, str] | None) -> dict[str, Any] | None:
        """Return the captured path parameters when the request matches, else None."""
        params = self.path.match(path)
        if params is None or not self.matches_rest(method, query):
            return None
        return params

    def explain(self, method: str, path: str, query: Mapping[str, str] | None) -> tuple[str, bool] | None:
        """Say which condition fails first, and whether the path matched; None when all hold."""
        failed = self.path.explain(path)
        if failed is not None:
            return failed
        if self.methods is not None and method not in self.methods:
            return f"method {method} not in [{', '.join(sorted(self.methods))}]", True
        lookup = _query_lookup(query, self.case_sensitive)
        for name, condition in self.query:
            key = name if self.case_sensitive else name.casefold()
            value = lookup.get(key)
            if condition.test(value, self.case_sensitive):
                continue
            if value is None:
                return f"query parameter {name} is missing; expected {condition.describe()}", True
            if condition.kind == "absent":
                return f"query parameter {name} is present; expected it absent", True
            return f"query parameter {name} is '{value}'; expected {condition.describe()}", True
        return None

    def describe(self) -> str:
        methods = ",".join(sorted(self.methods)) + " " if self.methods else ""
        query = " ".join(f"{name}={condition.describe()}" for name, condition in self.query)
        return f"{methods}{self.path.pattern.source}" + (f" ? {query}" if query else "")


def _query_lookup(query: Mapping[str, str] | None, case_sensitive: bool) -> Mapping[str, str]:
    if query is None:
        return {}
    if case_sensitive:
        return query
    return {name.casefold(): value for name, value in query.items()}
