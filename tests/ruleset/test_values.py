"""Value parsers of rule files: CSS selectors, ids, locales, statuses and dates."""

from __future__ import annotations

import warnings

import pytest
import soupsieve

from proxy.ruleset.values import parse_browser_selector, parse_id, parse_locale, parse_server_selector, parse_status

SELECTORS = [
    "#vendor",
    "input[name=qty]",
    "#lines .add-line",
    "button[type=submit]",
    "table.orders .approve",
    "a > b",
    "a, b",
    "div#x.y[z='1 2']",
    "*",
    "a ~ b + c",
    "[data-x]",
    "-x",
    'input[name="a b"]',
    "a  >  b",
    "li:nth-child(2)",
    "a:hover",
    "--x",
    "#1a",
    "a >",
    ">a",
    "a,",
    "##x",
    "[x=1]",
    "a[",
    "a..b",
    ".",
    "#",
    "a::before",
]


def _soupsieve_accepts(text: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            soupsieve.compile(text)
    except (soupsieve.SelectorSyntaxError, NotImplementedError):
        return False
    return True


@pytest.mark.parametrize("text", SELECTORS)
def test_selector_agrees_with_soupsieve(text: str) -> None:
    try:
        parse_browser_selector(text)
        accepted = True
    except ValueError:
        accepted = False
    assert accepted is _soupsieve_accepts(text)


SELECTOR_ERRORS = [
    pytest.param("#a >", "invalid character ' ' position 2; expected a CSS selector such as '#vendor' or 'input[name=qty]'", id="dangling-combinator"),
    pytest.param("a::before", "pseudo-element found at position 1; expected a CSS selector without pseudo-elements", id="pseudo-element"),
    pytest.param("", "expected a CSS selector such as '#vendor' or 'input[name=qty]'", id="empty"),
    pytest.param(
        "li:-soup-contains(Save)",
        "':contains()' is not a CSS selector that browsers understand; expected a standard selector "
        "(match an element's text with 'text:')",
        id="soupsieve-only",
    ),
]


@pytest.mark.parametrize(("text", "message"), SELECTOR_ERRORS)
def test_selector_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_browser_selector(text)
    assert str(raised.value) == message


def test_server_selector_allows_contains() -> None:
    assert parse_server_selector("p:-soup-contains(saved)") == "p:-soup-contains(saved)"


VALUES = [
    pytest.param(parse_id, "raise-po.v2", "raise-po.v2", id="id"),
    pytest.param(parse_locale, "pt-BR", "pt-BR", id="locale"),
    pytest.param(parse_status, 302, 302, id="status"),
    pytest.param(parse_status, "2XX", "2xx", id="status-class"),
]


@pytest.mark.parametrize(("parse", "value", "expected"), VALUES)
def test_value_parsers(parse: object, value: object, expected: object) -> None:
    assert parse(value) == expected  # type: ignore[operator]


INVALID_VALUES = [
    pytest.param(parse_id, "-po", id="id-leading-dash"),
    pytest.param(parse_id, "a" * 65, id="id-too-long"),
    pytest.param(parse_locale, "english", id="locale"),
    pytest.param(parse_status, 99, id="status-low"),
    pytest.param(parse_status, True, id="status-boolean"),
    pytest.param(parse_status, "6xx", id="status-class"),
]


@pytest.mark.parametrize(("parse", "value"), INVALID_VALUES)
def test_value_parsers_reject(parse: object, value: object) -> None:
    with pytest.raises(ValueError):
        parse(value)  # type: ignore[operator]
