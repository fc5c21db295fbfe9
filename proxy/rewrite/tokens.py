"""Byte patterns of the HTML tokenizer that the splicer needs: tags, comments, raw text ends and script escapes."""

from __future__ import annotations

import html
import re

WHITESPACE = b"\t\n\f\r "

# The rest of a tag after its name, up to the tag's '>'. Quotes only open a value right after '=' (as in the
# HTML tokenizer), and possessive quantifiers stop the engine from backtracking into a shorter
# reading, so a '>' inside a quoted value never ends the tag and an unterminated value never matches.
_TAG_REST = rb"""
    (?:
        [\t\n\f\r /]++
      | [^\t\n\f\r />][^\t\n\f\r />=]*+
        (?: [\t\n\f\r ]*+ = [\t\n\f\r ]*+
            (?: "[^"]*+" | '[^']*+' | [^\t\n\f\r >"'][^\t\n\f\r >]*+ | (?=>) )
          | (?! [\t\n\f\r ]*+ = )
        )
    )*+
    >"""

TAG = re.compile(rb"</?([A-Za-z][^\t\n\f\r />]*+)" + _TAG_REST, re.VERBOSE)
"""A start or end tag from '<' to '>'; group 1 is the name."""

_COMMENT = rb"<!--(?:-?>|(?:(?!--!?>)[\x00-\xff])*+--!?>)"
PROLOG = re.compile(
    rb"(?:[\t\n\f\r ]++|" + _COMMENT + rb"|<![Dd][Oo][Cc][Tt][Yy][Pp][Ee][^>]*+>|<\?[^>]*+>)*+"
    rb"(?P<html><[Hh][Tt][Mm][Ll](?=[\t\n\f\r />])" + _TAG_REST + rb")"
    rb"(?:[\t\n\f\r ]++|" + _COMMENT + rb")*+"
    rb"(?P<head><[Hh][Ee][Aa][Dd](?=[\t\n\f\r />])" + _TAG_REST + rb")",
    re.VERBOSE,
)
"""The usual start of an HTML document (whitespace, comments, doctype, <html ...>, <head ...>) in one
match, which the splicer takes as a shortcut for the same tokens one by one."""

ATTRIBUTE = re.compile(
    rb"""([^\t\n\f\r />][^\t\n\f\r />=]*+)
    (?: [\t\n\f\r ]*+ = [\t\n\f\r ]*+ ( "[^"]*+" | '[^']*+' | [^\t\n\f\r >"'][^\t\n\f\r >]*+ ) )?""",
    re.VERBOSE,
)

COMMENT_END_HTML = re.compile(rb"--!?>")
COMMENT_END_XML = re.compile(rb"-->")
XML_DOCTYPE_SUBSET_END = re.compile(rb"\][\t\n\r ]*>")

RAWTEXT_ELEMENTS = frozenset({b"style", b"xmp", b"iframe", b"noembed", b"noframes", b"noscript", b"title", b"textarea"})
"""Elements whose content the HTML tokenizer reads as text up to the matching end tag (RAWTEXT and RCDATA)."""

_RAWTEXT_ENDS = {name: re.compile(rb"</" + name + rb"[\t\n\f\r />]", re.IGNORECASE) for name in RAWTEXT_ELEMENTS}

SCRIPT_DATA = re.compile(rb"<!--|</script[\t\n\f\r />]", re.IGNORECASE)
SCRIPT_ESCAPED = re.compile(rb"-->|</script[\t\n\f\r />]|<script[\t\n\f\r />]", re.IGNORECASE)
SCRIPT_DOUBLE_ESCAPED = re.compile(rb"-->|</script[\t\n\f\r />]", re.IGNORECASE)
SCRIPT_PATTERN_BYTES = 9
"""Length of the longest script pattern ("</script" and one terminator byte)."""
CSP_NAME = re.compile(rb"content-security-policy", re.IGNORECASE)


def _raw_element(name: bytes, content: bytes) -> bytes:
    """Return the pattern of a whole element `name` (any case) whose raw text matches `content`."""
    return (
        rb"<(?i:" + name + rb")(?=[\t\n\f\r />])" + _TAG_REST + content
        + rb"</(?i:" + name + rb")(?=[\t\n\f\r />])" + _TAG_REST
    )


def _raw_text(name: bytes) -> bytes:
    return rb"(?:[^<]++|<(?!/(?i:" + name + rb")[\t\n\f\r />]))*+"


HEAD_RUN = re.compile(
    rb"(?:[\t\n\f\r ]++|" + _COMMENT
    + rb"|<(?i:meta|link|base|basefont|bgsound)(?=[\t\n\f\r />])" + _TAG_REST
    + rb"|" + _raw_element(b"title", _raw_text(b"title"))
    + rb"|" + _raw_element(b"style", _raw_text(b"style"))
    + rb"|" + _raw_element(b"noscript", _raw_text(b"noscript"))
    # Script text without '<!--', where only '</script' and a terminator byte end it.
    + rb"|" + _raw_element(b"script", rb"(?:[^<]++|<(?!!--|/(?i:script)[\t\n\f\r />]))*+")
    + rb")*+",
    re.VERBOSE,
)
"""Whole head tokens that change nothing while the splicer waits for the head to end: whitespace,
comments, void head elements and complete title, style, noscript and script elements. Matching
them in one step spares tokenizing them one by one. A match that names a policy, the runtime or a
template is tokenized as usual."""


def rawtext_end(name: bytes) -> re.Pattern[bytes]:
    """Return the pattern that ends the raw text of element `name`: "</name" and a terminator byte."""
    return _RAWTEXT_ENDS[name]


def tag_attributes(tag: bytes) -> dict[str, str]:
    """Return a tag's attributes, names lower-cased and character references decoded; the first of a name wins."""
    name_end = 1
    while name_end < len(tag) and tag[name_end] not in b"\t\n\f\r />":
        name_end += 1
    attributes: dict[str, str] = {}
    for match in ATTRIBUTE.finditer(tag, name_end, len(tag) - 1):
        name = match.group(1).decode("latin-1").lower()
        raw = match.group(2) or b""
        if raw[:1] in (b'"', b"'"):
            raw = raw[1:-1]
        attributes.setdefault(name, html.unescape(raw.decode("latin-1")))
    return attributes
