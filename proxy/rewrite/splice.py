"""Streaming insertion of the snippet into a decoded HTML or XHTML byte stream, every other byte unchanged."""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Sequence

from proxy.rewrite import tokens
from proxy.rewrite.charset import PRESCAN_BYTES, PrescanResult, bom_encoding, looks_like_utf16, prescan
from proxy.rewrite.scanner import Scanner
from proxy.rewrite.snippet import RUNTIME_MARKER, is_runtime_tag
from proxy.rewrite.tokens import WHITESPACE

logger = logging.getLogger(__name__)

DEFAULT_LOOKAHEAD = 64 * 1024
"""Bytes of a document searched for the insertion point before falling back or giving up."""

NEXT_TAG_WINDOW = 1024
"""Bytes past the insertion point within which the next start tag is awaited before deciding. In a page
that already went through Guidegate, that tag is the runtime's, so the page is not injected twice."""

SnippetFactory = Callable[[Sequence[str]], bytes]
"""Builds the snippet once the insertion point is known, given the <meta> Content-Security-Policy
values that precede it; raises SkipInjection when the snippet must not go in."""


class SkipInjection(Exception):
    """Raised by a snippet factory to leave the document untouched; `reason` is the metric label."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Phase(enum.Enum):
    START = "start"  # before the BOM check
    PROLOG = "prolog"  # before the first element
    AFTER_ROOT = "after_root"  # after <html>, looking for <head>
    FOUND = "found"  # structural point known, waiting for charset and next-tag checks
    DONE = "done"  # decided; everything else passes through


_DOCUMENT_TAGS = frozenset({b"html", b"head", b"body", b"frameset", b"title", b"meta"})
"""First elements that mark a whole document rather than a fragment fetched by script."""

_HEAD_CONTENT = frozenset(
    {b"base", b"basefont", b"bgsound", b"link", b"meta", b"noframes", b"noscript", b"script", b"style", b"template", b"title", b"head", b"html"}
)
"""Start tags the HTML parser keeps in the head (or ignores there). Any other start tag ends the head."""

_RUN_STOPPERS = (b"content-security-policy", RUNTIME_MARKER.encode("ascii"), b"<template")
"""Lower-cased text that makes the splicer tokenize a run of head tokens one by one, because it may matter."""

_HEAD_ENDING_END_TAGS = frozenset({b"head", b"body", b"html", b"br"})
"""End tags that end the head in the HTML parser, which ignores other end tags there."""


class Splicer(Scanner):
    """Insert a snippet once into a document fed chunk by chunk, passing every other byte unchanged.

    The insertion point is inside <head>, right after its start tag, or after a <meta> charset
    declaration that the browser's 1024-byte prescan would find later on, so the snippet never
    pushes it out of that window. Without <head> it goes after <html>, else before the first
    element or text (which puts it into the head the parser implies); in XHTML it always goes
    inside the root element. Bytes are released as soon as they are known to come before the
    insertion point. The rest is held until the head ends, because a <meta> Content-Security-Policy
    anywhere in the head applies to the runtime's requests too. At most `lookahead` bytes, plus
    the chunk being scanned, are held back.

    `snippet` is the tag itself or a SnippetFactory. `sniff` skips documents that start like a
    fragment (use it when the request did not state its destination). `encoding` is the
    charset that the Content-Type header names, if any, which makes the browser skip the <meta>
    prescan.
    """

    def __init__(
        self,
        snippet: bytes | SnippetFactory,
        *,
        xml: bool = False,
        sniff: bool = False,
        lookahead: int = DEFAULT_LOOKAHEAD,
        encoding: str | None = None,
    ) -> None:
        super().__init__(xml=xml)
        self._snippet = snippet
        self._sniff = sniff and not xml
        self._lookahead = max(lookahead, PRESCAN_BYTES)
        self._encoding = encoding
        self.outcome: str | None = None
        """"injected" or the reason the document was left alone; None until decided."""
        self.placement: str | None = None
        """Where the snippet went: "head", "after_meta", "after_html", "before_body", "before_frameset",
        "document_start" or "after_root"."""

        self._phase = _Phase.START
        self._template_depth = 0

        self._first = bytearray()  # the first PRESCAN_BYTES bytes, for the prescan
        self._need_prescan = not xml and encoding is None
        self._prescan_done = not self._need_prescan
        self._prescan_checked = 0
        self._prescan_result: PrescanResult | None = None
        self._meta_end: int | None = None
        self._after_meta: int | None = None

        self._root_end = 0
        self._point = 0
        self._document_like = False
        self._runtime_seen = False
        self._last_start_tag = -1
        self._prolog_tried = False
        self._meta_policies: list[tuple[int, str]] = []
        self._head_end: int | None = None
        """Document offset where the head ends (explicitly or as the parser implies), once seen."""

    # Feeding

    def feed(self, data: bytes) -> bytes:
        """Take the next decoded chunk; return the bytes that can be sent now."""
        if self._phase is _Phase.DONE:
            return data
        self._take(data)
        self._run(final=False)
        return self._drain()

    def finish(self) -> bytes:
        """Signal the end of the body; return the remaining bytes. The outcome is known afterwards."""
        if self._phase is not _Phase.DONE:
            self._run(final=True)
        return self._drain()

    def abandon(self) -> bytes:
        """Give up and return every byte fed but not yet returned, unchanged (used after an error)."""
        if self._phase is not _Phase.DONE:
            self._phase = _Phase.DONE
            self.outcome = self.outcome or "error"
        return self._drain()

    def _take(self, data: bytes) -> None:
        if len(self._first) < PRESCAN_BYTES:
            self._first += data[: PRESCAN_BYTES - len(self._first)]
        super()._take(data)

    def _drain(self) -> bytes:
        if self._phase is _Phase.DONE:
            self._release_all()
        return self._pop_released()

    def _skip(self, reason: str) -> None:
        self.outcome = reason
        self._phase = _Phase.DONE

    # Decision loop

    def _run(self, *, final: bool) -> None:
        available = self._base + len(self._buffer)
        limit = min(available, self._lookahead)
        if self._phase is _Phase.START and not self._check_start(final):
            return
        self._advance_prescan(final)
        if self._phase is _Phase.PROLOG and not self._prolog_tried:
            self._prolog_tried = True
            if not self._xml:
                self._match_prolog(limit)
        self._scan(limit, final=final)
        if self._phase is _Phase.DONE:
            return
        if self._phase is _Phase.FOUND:
            target = self._ready()
            if target is not None:
                self._insert(target)
                return
        if final:
            self._settle(exhausted=False)
        elif available >= self._lookahead:
            self._settle(exhausted=True)
        else:
            self._release_held()

    def _check_start(self, final: bool) -> bool:
        """Handle a byte order mark and BOM-less UTF-16; return False while more bytes are needed."""
        head = bytes(self._buffer[:4])
        if not head:
            if final:
                self._skip("empty")
            return False
        if len(head) < 4 and not final:
            return False
        bom = bom_encoding(head)
        if bom is not None and bom[0] != "UTF-8":
            self._skip("utf16")
            return False
        if bom is None and looks_like_utf16(head):
            self._skip("utf16")
            return False
        if bom is not None:
            self._need_prescan = False
            self._prescan_done = True
            self._position = self._resume = bom[1]
        self._phase = _Phase.PROLOG
        return True

    def _advance_prescan(self, final: bool) -> None:
        if self._prescan_done:
            return
        complete = final or len(self._first) >= PRESCAN_BYTES
        # A <meta> can only be recognised once its '>' has arrived, so rerun the prescan only then.
        if not complete and self._first.find(b">", self._prescan_checked) < 0:
            return
        self._prescan_checked = len(self._first)
        # A result found in a prefix is final, because the prescan reads in order and stops at its first find.
        self._prescan_result = prescan(bytes(self._first))
        if self._prescan_result is not None:
            self._meta_end = self._prescan_result.end
            self._prescan_done = True
        elif complete:
            self._prescan_done = True

    def _ready(self) -> int | None:
        """Return the insertion offset once every check can be made, else None."""
        target = self._checked_target()
        if target is None or self._head_end is None:
            return None
        return target

    def _checked_target(self) -> int | None:
        """Return the insertion offset once every check but the head's end can be made, else None."""
        if not self._prescan_done:
            return None
        target = self._point
        if self._meta_end is not None and self._meta_end > self._point:
            if self._after_meta is None:
                return None
            target = self._after_meta
        if self._last_start_tag < target and self._position < target + NEXT_TAG_WINDOW:
            return None
        return target

    def _skip_data(self, limit: int) -> None:
        """While only the head's end is awaited, step over the head tokens that change nothing in one match."""
        if (
            self._phase is not _Phase.FOUND
            or self._head_end is not None
            or self._xml
            or self._template_depth
            or self._checked_target() is None
        ):
            return
        start = self._position - self._base
        end = tokens.HEAD_RUN.match(self._buffer, start, limit - self._base).end()  # type: ignore[union-attr]
        if end == start:
            return
        span = bytes(self._buffer[start:end]).lower()
        if any(word in span for word in _RUN_STOPPERS):
            return
        self._position = self._resume = self._base + end

    def _settle(self, *, exhausted: bool) -> None:
        """Decide at the end of the body or of the look-ahead, with what is known."""
        if self._phase is _Phase.PROLOG:
            if self._xml:
                self._skip("lookahead" if exhausted else "no_insertion_point")
                return
            if self._sniff and not self._document_like:
                self._skip("fragment")
                return
            self._found(self._position, "document_start")
        elif self._phase is _Phase.AFTER_ROOT:
            self._found(self._root_end, "after_root" if self._xml else "after_html")
        if self._phase is not _Phase.FOUND:
            return
        self._advance_prescan(final=True)
        target = self._point
        if self._meta_end is not None and self._meta_end > self._point:
            if self._after_meta is not None:
                target = self._after_meta
            elif exhausted:
                self._skip("lookahead")
                return
        self._insert(target)

    def _match_prolog(self, limit: int) -> None:
        """Take the usual document start up to <head ...> in one step when the first chunk contains it all.

        Tried once only, so that a document fed in small pieces costs no repeated matching.
        """
        match = tokens.PROLOG.match(self._buffer, self._position - self._base, limit - self._base)
        if match is None:
            return
        self._root_end = self._base + match.end("html")
        self._last_start_tag = self._base + match.start("head")
        self._document_like = True
        self._position = self._resume = self._base + match.end()
        self._found(self._position, "head")

    def _release_held(self) -> None:
        if self._phase is _Phase.PROLOG:
            self._release_to(self._position)
        elif self._phase is _Phase.AFTER_ROOT:
            self._release_to(self._root_end)
        elif self._phase is _Phase.FOUND:
            self._release_to(self._point)

    def _found(self, offset: int, placement: str) -> None:
        self._point = offset
        self.placement = placement
        self._phase = _Phase.FOUND
        if placement == "after_root":
            # An XHTML root without a <head> child: the document has no head, so no <meta> policy applies.
            self._end_head(offset)

    def _insert(self, target: int) -> None:
        if target != self._point:
            self.placement = "after_meta"
        if self._runtime_seen:
            self._skip("already_injected")
            return
        if self._declared_encoding() == "ISO-2022-JP" and self._escape_before(target):
            # Before an escape sequence ISO-2022-JP bytes read as ASCII; after one they may not,
            # so a '<' found by byte scanning might not be a '<' for the browser.
            self._skip("iso2022jp")
            return
        # Every policy of the head counts: one after the tag does not block the tag, but it blocks the
        # runtime's requests. The head's end is unknown only when the look-ahead ran out first.
        # NOTE: a policy in a head longer than the look-ahead is then missed.
        head_end = self._head_end
        policies = [content for end, content in self._meta_policies if head_end is None or end <= head_end]
        try:
            snippet = self._snippet if isinstance(self._snippet, bytes) else self._snippet(policies)
        except SkipInjection as skip:
            self._skip(skip.reason)
            return
        if self._need_prescan and not self._prescan_unchanged(target, snippet):
            self._skip("charset_conflict")
            return
        self._release_to(target)
        self._released.append(snippet)
        self.outcome = "injected"
        self._phase = _Phase.DONE

    def _declared_encoding(self) -> str | None:
        if self._encoding is not None:
            return self._encoding
        return self._prescan_result.encoding if self._prescan_result else None

    def _prescan_unchanged(self, target: int, snippet: bytes) -> bool:
        """Check that the browser's prescan finds the same charset with the snippet in place."""
        before = self._prescan_result
        if target >= PRESCAN_BYTES or (before is not None and target >= before.end):
            return True
        original = bytes(self._first[:PRESCAN_BYTES])
        after = prescan((original[:target] + snippet + original[target:])[:PRESCAN_BYTES])
        if before is None or after is None:
            return before is after
        return before.encoding == after.encoding

    # Placement, from the tokens the scanner reports

    def _scanning(self) -> bool:
        return self._phase is not _Phase.DONE and not (self._phase is _Phase.FOUND and self._ready() is not None)

    def _stopped(self) -> bool:
        return self._phase is _Phase.DONE

    def _end_head(self, offset: int) -> None:
        """Record that the head ends at `offset`, unless it ended before or the token is template content."""
        if self._head_end is None and self._template_depth == 0:
            self._head_end = offset

    def _on_text(self, start: int, end: int) -> None:
        if self._phase not in (_Phase.PROLOG, _Phase.AFTER_ROOT, _Phase.FOUND):
            return
        text = self._token_bytes(start, end)
        content = text.lstrip(WHITESPACE)
        if not content:
            return
        if not self._xml:
            # Text other than whitespace ends the head the parser is in or implies.
            self._end_head(start + len(text) - len(content))
        if self._phase is _Phase.FOUND:
            return
        if self._phase is _Phase.AFTER_ROOT:
            self._found(self._root_end, "after_root" if self._xml else "after_html")
        elif not self._xml:
            if self._sniff and not self._document_like:
                self._skip("fragment")
                return
            # Leading whitespace may have gone out with an earlier chunk, so the point is where
            # the text proper starts, whatever the chunking.
            self._found(start + len(text) - len(content), "document_start")

    def _on_markup(self, kind: str, start: int, end: int) -> None:
        if kind == "doctype" or (
            kind == "processing_instruction" and self._token_bytes(start, start + 5).lower() == b"<?xml"
        ):
            self._document_like = True
        self._note_boundary(end, True)

    def _on_end_tag(self, name: bytes, start: int, end: int) -> None:
        if not self._xml and name == b"template" and self._template_depth:
            self._template_depth -= 1
        if name == b"head" or (not self._xml and name in _HEAD_ENDING_END_TAGS):
            self._end_head(start)
        if self._phase is _Phase.AFTER_ROOT:
            self._found(self._root_end, "after_root" if self._xml else "after_html")
        self._note_boundary(end, True)

    def _on_start_tag(self, name: bytes, start: int, end: int, *, boundary: bool) -> None:
        raw = b""
        if name in (b"script", b"meta") or self._xml:
            raw = self._token_bytes(start, end)
        if name == b"script" and is_runtime_tag(raw):
            self._runtime_seen = True
        if name == b"meta" and self._template_depth == 0 and tokens.CSP_NAME.search(raw):
            attributes = tokens.tag_attributes(raw)
            if attributes.get("http-equiv", "").strip().lower() == "content-security-policy":
                self._meta_policies.append((end, attributes.get("content", "")))
        if name == b"template" and not self._xml:
            self._template_depth += 1
        self._last_start_tag = start

        if self._phase is _Phase.PROLOG:
            self._on_first_element(name, raw, start, end)
        elif self._phase is _Phase.AFTER_ROOT:
            if name == b"head":
                self._found(end, "head")
            else:
                self._found(self._root_end, "after_root" if self._xml else "after_html")
        self._note_head_content(name, start)
        self._note_boundary(end, boundary)

    def _note_head_content(self, name: bytes, start: int) -> None:
        """End the head at a start tag that cannot be in it. In XHTML only </head> ends it."""
        if self._head_end is None and not self._xml and name not in _HEAD_CONTENT:
            self._end_head(start)

    def _on_first_element(self, name: bytes, raw: bytes, start: int, end: int) -> None:
        if self._xml:
            if name == b"head":
                self._found(end, "head")
            elif raw.endswith(b"/>"):
                self._skip("no_insertion_point")
            else:
                self._root_end = end
                self._phase = _Phase.AFTER_ROOT
            return
        self._document_like = self._document_like or name in _DOCUMENT_TAGS
        if self._sniff and not self._document_like:
            self._skip("fragment")
        elif name == b"html":
            self._root_end = end
            self._phase = _Phase.AFTER_ROOT
        elif name == b"head":
            self._found(end, "head")
        elif name in (b"body", b"frameset"):
            self._found(start, "before_" + name.decode("ascii"))
        else:
            self._found(start, "document_start")

    def _note_boundary(self, end: int, boundary: bool) -> None:
        """Remember the first place after the charset <meta> where the snippet can go."""
        if (
            boundary
            and self._after_meta is None
            and self._meta_end is not None
            and end >= self._meta_end
            and self._template_depth == 0
            and self._phase is _Phase.FOUND
        ):
            self._after_meta = end


