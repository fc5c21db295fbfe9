"""URL patterns of rule files: path templates with typed parameters, globs and regexes, query conditions and methods."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any, ClassVar, Literal

from proxy.ruleset.values import parse_method
from proxy.yamlbind import setting

REGEX_PREFIX = "re:"

PARAMETER_TYPES: dict[str, tuple[str, Callable[[str], Any], str]] = {
    # type name: (regex, converter, noun used in explanations)
    "str": (r"[^/]+", str, "a non-empty segment"),
    "int": (r"[0-9]+", int, "an int"),
    "uuid": (r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}", str, "a uuid"),
    "hex": (r"[0-9A-Fa-f]+", str, "a hex number"),
    "slug": (r"[A-Za-z0-9_-]+", str, "a slug (letters, digits, '-', '_')"),
    "date": (r"[0-9]{4}-[0-9]{2}-[0-9]{2}", str, "a date (YYYY-MM-DD)"),
    "path": (r".+", str, "a non-empty path"),
}

_PARAMETER = re.compile(r"\{([^{}:]*)(?::([^{}]*))?\}")
_TOKEN = re.compile(r"(\{[^{}]*\}|\*)")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_EXAMPLES = "such as '/po/new', '/reports/*', '/po/{id:int}/edit' or 're:^/po/[0-9]+$'"


@dataclass(frozen=True)
class PathPattern:
    """A parsed path pattern: its source text and the full-match regex it stands for."""

    source: str
    regex: str
    loose: str | None
    literal_prefix: tuple[str, ...]
    exact: str | None
    parameters: tuple[tuple[str, str], ...]

    def __str__(self) -> str:
        return self.source


def parse_path_pattern(value: Any) -> PathPattern:
    """Parse a path pattern: exact, glob (`*`, `**`), `{name:type}` parameters, or `re:` regex."""
    text = str(value).strip()
    if text.startswith(REGEX_PREFIX):
        return _parse_regex_pattern(text)
    if not text.startswith("/"):
        raise ValueError(f"expected a path that starts with '/', {_EXAMPLES}")
    if "?" in text or "#" in text:
        raise ValueError("expected a path without '?' or '#'; write query parameters under 'query:'")
    if any(character.isspace() for character in text):
        raise ValueError(f"expected a path without spaces, {_EXAMPLES}")

    pieces: list[str] = []
    loose: list[str] = []
    prefix: list[str] = []
    parameters: list[tuple[str, str]] = []
    literal_so_far = True
    for segment in text[1:].split("/"):
        if segment == "**":
            pieces.append("(?:/.*)?")
            loose.append("(?:/.*)?")
            literal_so_far = False
            continue
        if "**" in segment:
            raise ValueError(f"'**' must be a whole segment, as in '/reports/**', not '{segment}'")
        strict, relaxed, has_wildcard = _segment_regex(segment, parameters)
        pieces.append("/" + strict)
        loose.append("/" + relaxed)
        if literal_so_far and not has_wildcard:
            prefix.append(segment)
        else:
            literal_so_far = False
    exact = text if literal_so_far else None
    return PathPattern(
        source=text,
        regex="".join(pieces),
        loose="".join(loose) if parameters else None,
        literal_prefix=tuple(prefix),
        exact=exact,
        parameters=tuple(parameters),
    )


def _segment_regex(segment: str, parameters: list[tuple[str, str]]) -> tuple[str, str, bool]:
    """Translate one segment into (strict regex, loose regex, whether it has a wildcard)."""
    if "{" not in segment and "}" not in segment and "*" not in segment:
        literal = re.escape(segment)
        return literal, literal, False
    strict: list[str] = []
    loose: list[str] = []
    for token in _TOKEN.split(segment):
        if not token:
            continue
        if token == "*":
            strict.append("[^/]*")
            loose.append("[^/]*")
        elif token.startswith("{") and token.endswith("}") and len(token) > 1:
            match = _PARAMETER.fullmatch(token)
            if match is None:
                raise ValueError(f"invalid parameter '{token}'; expected a parameter such as '{{id:int}}'")
            name, kind = match.group(1), (match.group(2) or "str")
            _check_parameter(name, kind, parameters)
            parameters.append((name, kind))
            strict.append(f"(?P<{name}>{PARAMETER_TYPES[kind][0]})")
            loose.append(f"(?P<{name}>.*)" if kind == "path" else f"(?P<{name}>[^/]*)")
        elif "{" in token or "}" in token:
            brace = "{" if "{" in token else "}"
            raise ValueError(f"unbalanced '{brace}' in segment '{segment}'; expected a parameter such as '{{id:int}}'")
        else:
            strict.append(re.escape(token))
            loose.append(re.escape(token))
    return "".join(strict), "".join(loose), True


def _check_parameter(name: str, kind: str, parameters: list[tuple[str, str]]) -> None:
    if not _NAME.match(name):
        raise ValueError(f"invalid parameter name '{name}'; expected a name such as 'id' in '{{id:int}}'")
    if any(existing == name for existing, _ in parameters):
        raise ValueError(f"parameter '{name}' appears twice; expected each parameter name once")
    if kind not in PARAMETER_TYPES:
        close = get_close_matches(kind, list(PARAMETER_TYPES), n=1, cutoff=0.5)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ValueError(
            f"unknown parameter type '{kind}' in '{{{name}:{kind}}}'; expected one of: "
            f"{', '.join(PARAMETER_TYPES)}{hint}"
        )


def _parse_regex_pattern(text: str) -> PathPattern:
    body = text[len(REGEX_PREFIX):]
    try:
        compiled = re.compile(body)
    except re.error as error:
        raise ValueError(
            f"invalid regular expression: {error.msg} at position {error.pos}; expected a Python regular expression"
        ) from None
    names = tuple((name, "str") for name in compiled.groupindex)
    return PathPattern(source=text, regex=body, loose=None, literal_prefix=(), exact=None, parameters=names)


PATH_PATTERN_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": r"^(/|re:)",
    "description": "a path such as '/po/new', '/reports/*', '/docs/**', '/po/{id:int}/edit' or 're:^/po/[0-9]+$'",
}


@dataclass(frozen=True)
class QueryCondition:
    """A condition on one query parameter: a value, a regex, present ('*') or absent (null)."""

    kind: Literal["equals", "regex", "present", "absent"]
    value: str = ""
    regex: re.Pattern[str] | None = None

    def test(self, value: str | None, case_sensitive: bool = True) -> bool:
        """Whether the parameter's value (None when missing) meets the condition."""
        if self.kind == "absent":
            return value is None
        if value is None:
            return False
        if self.kind == "present":
            return True
        if self.kind == "regex" and self.regex is not None:
            return self.regex.fullmatch(value) is not None
        if case_sensitive:
            return value == self.value
        return value.casefold() == self.value.casefold()

    def describe(self) -> str:
        if self.kind == "absent":
            return "absent"
        if self.kind == "present":
            return "present"
        if self.kind == "regex":
            return f"matching {REGEX_PREFIX}{self.value}"
        return f"'{self.value}'"


def parse_query_condition(value: Any) -> QueryCondition:
    """Parse a query condition: text (equal), 're:...' (full match), '*' (present), null (absent)."""
    if value is None:
        return QueryCondition("absent")
    if isinstance(value, bool):
        return QueryCondition("equals", "true" if value else "false")
    text = str(value)
    if text == "*":
        return QueryCondition("present")
    if text.startswith(REGEX_PREFIX):
        body = text[len(REGEX_PREFIX):]
        try:
            return QueryCondition("regex", body, re.compile(body))
        except re.error as error:
            raise ValueError(
                f"invalid regular expression: {error.msg} at position {error.pos}; expected a Python regular expression"
            ) from None
    return QueryCondition("equals", text)


QUERY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
    "description": "query parameter conditions: a value, 're:regex', '*' for present, null for absent",
}

METHODS_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "array", "items": {"type": "string", "pattern": r"^([A-Za-z]{3,10}|\*)$"}},
        {"type": "string", "pattern": r"^([A-Za-z]{3,10}|\*)$"},
    ],
    "description": "HTTP methods such as GET or [GET, POST]; omitted or '*' means any",
}


@dataclass(frozen=True)
class RequestPattern:
    """A URL pattern: a path, with optional methods and query conditions."""

    __scalar_field__: ClassVar[str] = "path"

    path: PathPattern = setting(
        parse=parse_path_pattern,
        schema=PATH_PATTERN_SCHEMA,
        expected="a path pattern",
        help="path pattern such as '/po/new', '/reports/*', '/po/{id:int}/edit' or 're:^/po/[0-9]+$'",
    )
    methods: tuple[str, ...] = setting(
        (), parse=parse_method, schema=METHODS_SCHEMA, help="HTTP methods, e.g. POST or [GET, POST]; omitted means any"
    )
    query: dict[str, QueryCondition] = setting(
        default_factory=dict,
        parse=parse_query_condition,
        schema=QUERY_SCHEMA,
        help="query parameter conditions: a value, 're:regex', '*' (present) or null (absent)",
    )


class CompiledPath:
    """A path pattern compiled for one app's case sensitivity."""

    __slots__ = ("pattern", "exact", "_regex", "_flags", "_converters", "case_sensitive")

    def __init__(self, pattern: PathPattern, case_sensitive: bool) -> None:
        self.pattern = pattern
        self.case_sensitive = case_sensitive
        self._flags = 0 if case_sensitive else re.IGNORECASE
        self.exact = pattern.exact if case_sensitive or pattern.exact is None else pattern.exact.casefold()
        # Compiled on first use: a rule set holds thousands of patterns that a request never reaches,
        # and an exact pattern is compared as text and needs no regex at all.
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
        """Say why `path` does not match, and whether it came close; None when it matches."""
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

    def __init__(self, pattern: RequestPattern | None, case_sensitive: bool, *, path: PathPattern | None = None,
                 methods: tuple[str, ...] = (), query: Mapping[str, QueryCondition] | None = None) -> None:
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
