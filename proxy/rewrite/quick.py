"""The insertion point of an ordinary HTML document start, found in one pass with the splicer's exact result.

Most pages begin the same way: doctype, <html>, <head>, perhaps a <meta> charset, then another tag.
For those, a few compiled patterns find the point that the streaming Splicer would choose, without
its token-by-token machinery. Anything less ordinary returns None, and the caller runs the Splicer,
which stays the single definition of placement; the tests compare both on generated documents.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from proxy.rewrite import tokens
from proxy.rewrite.charset import PRESCAN_BYTES, PrescanResult, bom_encoding, looks_like_utf16, prescan
from proxy.rewrite.snippet import RUNTIME_MARKER, is_runtime_tag

_KEPT_STARTS = 256
"""Document starts whose insertion point is remembered; past this many the memory starts over."""

_SPACE_THEN_START_TAG = re.compile(rb"[\t\n\f\r ]*+(?=<[A-Za-z])")
"""Whitespace only, up to the '<' of a start tag: no text, comment or end tag in between."""


@dataclass(frozen=True, slots=True)
class QuickPoint:
    """The insertion point: `offset` into the document, `placement` "head" or "after_meta".

    `recheck_prescan` is True when the insertion lands inside the first 1024 bytes of a document
    whose charset nothing declares. The caller must then check, with the snippet in place, that
    the browser's <meta> prescan still finds no charset (as the Splicer does).
    """

    offset: int
    placement: str
    recheck_prescan: bool
    examined: int = field(default=0, compare=False)
    """Offset just past the last byte that the result depends on."""


_FINGERPRINT_BYTES = 64
"""Leading bytes that index the remembered starts; hashing them is cheaper than hashing 1024."""

_known: dict[tuple[bytes, str | None], list[tuple[bytes, QuickPoint]]] = {}
"""Points found within the first 1024 bytes, by the first 64 bytes and the header charset, each with
the 1024 bytes it applies to. Pages of one template start alike, so most documents are placed by a
lookup and one comparison."""
_known_count = 0


_HEAD_ENDS = (b"</head", b"<body", b"</HEAD", b"<BODY")
"""Text at which the head ends at the latest, unless it sits in a comment or raw text. Other spellings go to the Splicer."""

_HEAD_STOPPERS = (b"content-security-policy", RUNTIME_MARKER.encode("ascii"))
"""Lower-cased text that leaves the head to the Splicer: a <meta> policy or a runtime tag may follow the point."""


def quick_point(data: bytes, *, encoding: str | None, lookahead: int) -> QuickPoint | None:
    """Return the Splicer's insertion point for an HTML (not XHTML) document whose first chunk is `data`.

    `encoding` is the charset of the Content-Type header, if any. None means the start is not an
    ordinary one, or more bytes are needed to be sure: the caller then feeds the full Splicer,
    which decides every case, including skips. A point returned is the one the Splicer chooses
    when fed `data` as its first chunk, whatever follows.
    """
    global _known_count
    if len(data) < PRESCAN_BYTES:
        return _find(data, encoding, lookahead)
    key = (data[:_FINGERPRINT_BYTES], encoding)
    starts = _known.get(key)
    if starts is not None:
        for start, point in starts:
            if data.startswith(start):
                return point
    found = _find(data, encoding, lookahead)
    # Kept only when every byte examined lies within the first 1024, so the point depends on nothing
    # else (a look-ahead is never below 1024 bytes).
    if found is not None and found.examined <= PRESCAN_BYTES:
        if _known_count >= _KEPT_STARTS:
            _known.clear()
            _known_count = 0
        _known.setdefault(key, []).append((data[:PRESCAN_BYTES], found))
        _known_count += 1
    return found


def _head_end(data: bytes, offset: int, limit: int) -> tuple[int, int] | None:
    """Return where the tag that visibly ends the head starts and ends within `data[:limit]`, if nothing
    after `offset` before it names a policy or the runtime.

    The Splicer inserts the snippet only once the head has ended, applying every <meta> policy in
    it, and skips a page whose head already loads the runtime. The end found here is the first `</head` or
    `<body`, which must be a whole `</head>` or `<body>` tag: the Splicer waits for a tag cut off at
    the chunk's end, and `</header>` does not end the head. The Splicer's end lies there or earlier
    (at an implied end), unless that text sits in a comment or raw text.
    NOTE: in that case a policy between that false end and the real one is missed, as it was before
    policies after the point were applied.
    """
    end = -1
    search_limit = limit
    for marker in _HEAD_ENDS:
        found = data.find(marker, offset, search_limit)
        if found >= 0:
            end = search_limit = found
    if end < 0:
        return None
    tag = tokens.TAG.match(data, end, limit)
    if tag is None or tag.group(1).lower() != (b"head" if data[end + 1] == ord("/") else b"body"):
        return None
    head = data[offset:end].lower()
    if any(stopper in head for stopper in _HEAD_STOPPERS):
        return None
    return end, tag.end()


def _find(data: bytes, encoding: str | None, lookahead: int) -> QuickPoint | None:
    limit = min(len(data), max(lookahead, PRESCAN_BYTES))
    head = data[:4]
    if bom_encoding(head) is not None or looks_like_utf16(head):
        return None
    prolog = tokens.PROLOG.match(data, 0, limit)
    if prolog is None:
        return None

    offset, placement = prolog.end(), "head"
    found: PrescanResult | None = None
    if encoding is None:
        window = data[:PRESCAN_BYTES]
        found = prescan(window)
        if found is None and len(window) < PRESCAN_BYTES:
            # The Splicer waits for 1024 bytes (or the end) before it rules out a <meta> charset.
            return None
        if found is not None and found.end > offset:
            meta = _next_start_tag(data, offset, limit)
            if meta is None or meta[0] != b"meta" or meta[2] != found.end or tokens.CSP_NAME.search(meta[1]):
                return None
            offset, placement = found.end, "after_meta"
    declared = encoding or (found.encoding if found is not None else None)
    if declared == "ISO-2022-JP":
        return None

    # The Splicer waits for the next start tag to recognise a page that already loads the runtime
    # (one that went through Guidegate twice). When that tag is the runtime's, the Splicer decides.
    following = _next_start_tag(data, offset, limit)
    if following is None or (following[0] == b"script" and is_runtime_tag(following[1])):
        return None
    # The Splicer places the snippet once the head has ended, with every policy of the head known.
    head_end = _head_end(data, offset, limit)
    if head_end is None:
        return None
    recheck = encoding is None and found is None and offset < PRESCAN_BYTES
    return QuickPoint(offset, placement, recheck, max(following[2], head_end[1]))


def prescan_unchanged(data: bytes, offset: int, snippet: bytes) -> bool:
    """Tell whether the prescan of the first 1024 bytes still finds no charset with `snippet` at `offset`."""
    window = data[:PRESCAN_BYTES]
    return prescan((window[:offset] + snippet + window[offset:])[:PRESCAN_BYTES]) is None


def _next_start_tag(data: bytes, start: int, limit: int) -> tuple[bytes, bytes, int] | None:
    """Return (lower-cased name, raw tag, end) of a complete start tag after whitespace from `start`, else None."""
    space = _SPACE_THEN_START_TAG.match(data, start, limit)
    if space is None:
        return None
    tag = tokens.TAG.match(data, space.end(), limit)
    if tag is None:
        return None
    return tag.group(1).lower(), tag.group(0), tag.end()
