"""Parsers for the scalar values of rule files: ids, selectors, regexes, locales, dates and statuses."""

from __future__ import annotations

import re
import warnings
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import soupsieve
import yaml

from proxy.yamlbind import INVALID, BindContext

Text = str | dict[str, str]
"""A text shown to users: a plain string in the file's locale, or a mapping locale -> string."""

TEXT_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string"},
        {"type": "object", "additionalProperties": {"type": "string"}, "minProperties": 1},
    ]
}

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_LOCALE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_METHOD = re.compile(r"^[A-Z]{3,10}$")
_STATUS_CLASS = re.compile(r"^[1-5]xx$")
_FIELD_NAME = re.compile(r"^[^\s]{1,200}$")
_SOUP_ONLY = re.compile(r":(-soup-contains(-own)?|contains)\(")

ID_SCHEMA: dict[str, Any] = {"type": "string", "pattern": _ID.pattern}
DATE_SCHEMA: dict[str, Any] = {"type": "string"}


def parse_id(value: Any) -> str:
    """Check an id of a guide, workflow, step or feature: letters, digits, '_', '.', '-'."""
    text = str(value)
    if not _ID.match(text):
        raise ValueError(
            "expected an id of letters, digits, '_', '.' or '-', starting with a letter or digit, "
            "at most 64 characters, such as 'raise-po'"
        )
    return text


def parse_locale(value: Any) -> str:
    """Check a locale tag such as 'en', 'de' or 'pt-BR'."""
    text = str(value)
    if not _LOCALE.match(text):
        raise ValueError("expected a locale tag such as 'en', 'de' or 'pt-BR'")
    return text


def is_locale(text: str) -> bool:
    """Return whether `text` is a locale tag that parse_locale accepts."""
    return bool(_LOCALE.match(text))


def parse_method(value: Any) -> str:
    """Check an HTTP method such as GET or POST; return it in upper case ('*' means any)."""
    text = str(value).strip().upper()
    if text != "*" and not _METHOD.match(text):
        raise ValueError("expected an HTTP method such as GET or POST, or '*' for any")
    return text


def parse_field_name(value: Any) -> str:
    """Check a form field name: any text without whitespace."""
    text = str(value)
    if not _FIELD_NAME.match(text):
        raise ValueError("expected a form field name without spaces, such as 'vendor' or 'lines[0].qty'")
    return text


def parse_regex(value: Any) -> re.Pattern[str]:
    """Compile a Python regular expression, explaining where it is invalid."""
    text = str(value)
    try:
        return re.compile(text)
    except re.error as error:
        raise ValueError(f"{error.msg} at position {error.pos}; expected a Python regular expression") from None


def _selector_error(error: Exception) -> str:
    first = str(error).splitlines()[0] if str(error) else type(error).__name__
    return first[0].lower() + first[1:] if first else first


_IDENT = r"-?[_a-zA-Z][_a-zA-Z0-9-]*"
_ATTRIBUTE = rf"""\[\s*{_IDENT}\s*(?:[~|^$*]?=\s*(?:{_IDENT}|"[^"\\\n]*"|'[^'\\\n]*')\s*)?\]"""
_PART = rf"(?:#{_IDENT}|\.{_IDENT}|{_ATTRIBUTE})"
_COMPOUND = rf"(?:(?:{_IDENT}|\*){_PART}*|{_PART}+)"
_COMPLEX = rf"{_COMPOUND}(?:\s*[>+~]\s*{_COMPOUND}|\s+{_COMPOUND})*"
_PLAIN_SELECTOR = re.compile(rf"{_COMPLEX}(?:\s*,\s*{_COMPLEX})*")
"""Selectors made only of type, id, class and attribute selectors and combinators: valid CSS without
a full parse. Validating them is most of a rule file's load time, so anything else goes to soupsieve."""


def _compile_selector(text: str) -> None:
    if len(text) <= 300 and _PLAIN_SELECTOR.fullmatch(text):
        return
    with warnings.catch_warnings():
        # soupsieve warns about its deprecated ':contains'; the caller decides whether it is allowed.
        warnings.simplefilter("ignore")
        try:
            soupsieve.compile(text)
        except soupsieve.SelectorSyntaxError as error:
            raise ValueError(f"{_selector_error(error)}; expected a CSS selector such as '#vendor' or 'input[name=qty]'") from None
        except NotImplementedError as error:
            raise ValueError(f"{_selector_error(error)}; expected a CSS selector without pseudo-elements") from None


def parse_browser_selector(value: Any) -> str:
    """Check a CSS selector that the browser runtime evaluates (no soupsieve-only extensions)."""
    text = str(value).strip()
    if not text:
        raise ValueError("expected a CSS selector such as '#vendor' or 'input[name=qty]'")
    if _SOUP_ONLY.search(text):
        raise ValueError(
            "':contains()' is not a CSS selector that browsers understand; "
            "expected a standard selector (match an element's text with 'text:')"
        )
    _compile_selector(text)
    return text


def parse_server_selector(value: Any) -> str:
    """Check a CSS selector that the proxy evaluates on a response body (soupsieve syntax)."""
    text = str(value).strip()
    if not text:
        raise ValueError("expected a CSS selector such as '.alert-success'")
    _compile_selector(text)
    return text


def parse_status(value: Any) -> int | str:
    """Check an HTTP status code (100-599) or a status class such as '2xx'."""
    if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
        return value
    if isinstance(value, str) and _STATUS_CLASS.match(value.strip().lower()):
        return value.strip().lower()
    raise ValueError("expected an HTTP status from 100 to 599 or a class such as '2xx'")


def parse_timezone(value: Any) -> str:
    """Check an IANA time zone name such as 'UTC' or 'Europe/Berlin'."""
    text = str(value)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("expected an IANA time zone name such as 'UTC' or 'Europe/Berlin'") from None
    return text


def bind_date(node: yaml.Node, context: BindContext, path: str) -> date | datetime | Any:
    """Bind a date (2026-01-31) or a time (2026-01-31T08:00:00+01:00) from its source text.

    The text is parsed here rather than by the YAML constructor, so an impossible date such as
    2026-02-30 is reported with the field's name instead of failing inside the YAML library.
    """
    expected = "expected a date such as 2026-01-31 or a time such as 2026-01-31T08:00:00+01:00"
    if not isinstance(node, yaml.ScalarNode) or node.tag == "tag:yaml.org,2002:null":
        context.report(node, f"invalid value for '{path}': not a single value; {expected}")
        return INVALID
    text = str(node.value).strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text)
    except ValueError as error:
        reason = str(error)
        detail = f": {reason}" if "out of range" in reason or "must be in" in reason else ""
        context.report(node, f"invalid date '{text}' for '{path}'{detail}; {expected}")
        return INVALID


def text_variants(text: Text, locale: str) -> dict[str, str]:
    """Return a text as a mapping locale -> string, a plain string being in `locale`."""
    if isinstance(text, str):
        return {locale: text}
    return dict(text)
