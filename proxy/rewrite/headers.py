"""Response and request header fields as the rewriting changes them: length, validators, encoding, Vary, CSP."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from multidict import CIMultiDict, CIMultiDictProxy

ETAG_SUFFIX = "-gg"
"""Appended to the upstream's entity tag so an injected body never shares a validator with the plain one."""

REMOVED_HEADERS = ("Content-Length", "Accept-Ranges", "Content-MD5", "Content-Digest", "Repr-Digest", "Digest")
"""Fields that describe the upstream's exact bytes and so are wrong for a rewritten body."""

_ENTITY_TAG = re.compile(r'\s*(W/)?"([^"]*)"\s*|\s*(\*)\s*', re.IGNORECASE)


def header_values(headers: Mapping[str, str], name: str) -> list[str]:
    """Return every value of a header field, matching the name case-insensitively."""
    if isinstance(headers, (CIMultiDict, CIMultiDictProxy)):
        return list(headers.getall(name, []))
    wanted = name.lower()
    return [value for key, value in headers.items() if key.lower() == wanted]


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """Return a header field's values joined with ", " (RFC 9110 list syntax), or None when absent."""
    if isinstance(headers, (CIMultiDict, CIMultiDictProxy)):
        values = headers.getall(name, None)
        if values is None:
            return None
        return values[0] if len(values) == 1 else ", ".join(values)
    values = header_values(headers, name)
    return ", ".join(values) if values else None


def mark_etag(value: str) -> str:
    """Turn the upstream's entity tag into the injected body's: weak, with ETAG_SUFFIX appended.

    The body differs in bytes (snippet, re-encoding), so the tag can only be weak. The suffix keeps
    the plain and the injected body apart in every cache.
    """
    match = _ENTITY_TAG.fullmatch(value)
    opaque = match.group(2) if match and match.group(2) is not None else value.strip().strip('"')
    return f'W/"{opaque}{ETAG_SUFFIX}"'


def unmark_if_none_match(value: str) -> tuple[str, bool]:
    """Translate a client's If-None-Match back to the upstream's entity tags.

    Returns the value to send upstream and whether it named an injected body's tag. When it did
    and the upstream responds 304, the caller sets that response's ETag with `mark_etag`, so the
    client's cache keeps the injected body's validator.
    """
    tags: list[str] = []
    changed = False
    for part in _split_list(value):
        match = _ENTITY_TAG.fullmatch(part)
        if match is None or match.group(3):
            tags.append(part.strip())
            continue
        opaque = match.group(2)
        if opaque.endswith(ETAG_SUFFIX):
            opaque = opaque[: -len(ETAG_SUFFIX)]
            changed = True
        tags.append(f'W/"{opaque}"' if match.group(1) else f'"{opaque}"')
    return ", ".join(tags), changed


def _split_list(value: str) -> list[str]:
    """Split a comma-separated list of entity tags; commas inside quotes belong to the tag."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for character in value:
        if character == '"':
            quoted = not quoted
        if character == "," and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(character)
    parts.append("".join(current))
    return [part for part in parts if part.strip()]


def vary_with(values: Sequence[str], field: str) -> str | None:
    """Return a Vary value that lists `field`, or None when `values` already cover it (or are "*")."""
    listed = [item.strip() for value in values for item in value.split(",") if item.strip()]
    if any(item == "*" or item.lower() == field.lower() for item in listed):
        return None
    return ", ".join([*listed, field])


def adjust_response_headers(
    upstream: Mapping[str, str],
    *,
    content_encoding: str,
    negotiated: bool,
    csp_values: Sequence[str] | None = None,
    in_place: bool = False,
) -> CIMultiDict[str]:
    """Return the response header fields for an injected body.

    Content-Length, Accept-Ranges and digests are removed, because the length and bytes change.
    ETag is marked. Content-Encoding names what is sent ("identity" removes it). Vary gains
    Accept-Encoding when the coding was chosen by the client's Accept-Encoding. The
    Content-Security-Policy values are replaced when `csp_values` is given. Cache-Control and all
    other fields stay as they are. With `in_place`, a CIMultiDict `upstream` is changed and
    returned rather than copied, except in the rare cases that the general loop handles.
    """
    result: CIMultiDict[str]
    if isinstance(upstream, (CIMultiDict, CIMultiDictProxy)) and _fast_case(upstream, csp_values):
        result = upstream if in_place and isinstance(upstream, CIMultiDict) else upstream.copy()
        _strip_fields(result)
    else:
        result = CIMultiDict()
        for name, value in upstream.items():
            lowered = name.lower()
            if lowered in _REMOVED_LOWER or lowered == "content-encoding":
                continue
            if lowered == "content-security-policy" and csp_values is not None:
                continue
            if lowered == "etag":
                name, value = "ETag", _marked_etag(value)  # the marked tag is Guidegate's field, in its spelling
            result.add(name, value)
    if content_encoding != "identity":
        result["Content-Encoding"] = content_encoding
    if negotiated:
        vary = vary_with(result.getall("Vary", []), "Accept-Encoding")
        if vary is not None:
            result.popall("Vary", None)
            result["Vary"] = vary
    for value in csp_values or ():
        result.add("Content-Security-Policy", value)
    return result


def _fast_case(upstream: CIMultiDict[str] | CIMultiDictProxy[str], csp_values: Sequence[str] | None) -> bool:
    """Tell whether _strip_fields gives the field-by-field loop's result: no new CSP values and at most one ETag."""
    return csp_values is None and len(upstream.getall("ETag", ())) <= 1


def _strip_fields(result: CIMultiDict[str]) -> None:
    """Remove the length, range, digest and coding fields from `result` and mark its ETag, in place.

    Deleting a few fields costs a fraction of rebuilding all of them. Order is kept: a single
    ETag is replaced in place.
    """
    for name in _REMOVED_FIELDS:
        if name in result:
            del result[name]
    etag = result.get("ETag")
    if etag is not None:
        result["ETag"] = _marked_etag(etag)


_MARKED_KEPT = 1024
_marked: dict[str, str] = {}
"""Recent entity tags and their marked form: a page served many times keeps its tag."""


def _marked_etag(value: str) -> str:
    marked = _marked.get(value)
    if marked is None:
        if len(_marked) >= _MARKED_KEPT:
            _marked.clear()
        marked = _marked[value] = mark_etag(value)
    return marked


_REMOVED_LOWER = frozenset(name.lower() for name in REMOVED_HEADERS)
_REMOVED_FIELDS = (*REMOVED_HEADERS, "Content-Encoding")
