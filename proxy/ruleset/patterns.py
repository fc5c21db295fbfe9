"""URL patterns of rule files: path templates with typed parameters, globs and regexes, query conditions and methods, as written."""

from __future__ import annotations

import re
from collections.abc import Callable
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
    literal_suffix: str | None = None
    """The last segment when it is plain text; the index files prefix-less patterns under it."""

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
    last_literal: str | None = None
    for segment in text[1:].split("/"):
        last_literal = None
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
        if not has_wildcard:
            last_literal = segment
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
        literal_suffix=last_literal,
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
    return PathPattern(
        source=text, regex=body, loose=None, literal_prefix=_regex_prefix(body), exact=None, parameters=names
    )


_REGEX_SPECIAL = frozenset(".^$*+?{}[]\\|()")


def _regex_prefix(body: str) -> tuple[str, ...]:
    """Return the whole path segments that start every path a regex fully matches, for the index.

    Conservative: a regex with a top-level '|', or that does not start with '/' (after an optional
    '^'), has none. The plain characters up to the first special character count, except the last
    one when a quantifier follows it, and only segments followed by a '/' in them.
    """
    if _has_top_level_alternation(body):
        return ()
    text = body[1:] if body.startswith("^") else body
    if not text.startswith("/"):
        return ()
    literal: list[str] = []
    for character in text:
        if character in _REGEX_SPECIAL:
            if character in "*+?{" and literal:
                literal.pop()
            break
        literal.append(character)
    return tuple("".join(literal)[1:].split("/")[:-1])


def _has_top_level_alternation(body: str) -> bool:
    depth = 0
    in_class = False
    escaped = False
    for character in body:
        if escaped:
            escaped = False
        elif character == "\\":
            escaped = True
        elif in_class:
            in_class = character != "]"
        elif character == "[":
            in_class = True
        elif character == "(":
            depth += 1
        elif character == ")":
            depth -= 1
        elif character == "|" and depth == 0:
            return True
    return False


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
        help="a path pattern such as '/po/new', '/reports/*', '/po/{id:int}/edit' or 're:^/po/[0-9]+$'",
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
