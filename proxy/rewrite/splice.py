"""Streaming insertion of the snippet into a decoded HTML or XHTML byte stream, every other byte unchanged."""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Callable, Sequence

from proxy.rewrite import tokens
from proxy.rewrite.charset import PRESCAN_BYTES, PrescanResult, bom_encoding, looks_like_utf16, prescan
from proxy.rewrite.snippet import is_runtime_tag
from proxy.rewrite.tokens import WHITESPACE

logger = logging.getLogger(__name__)

DEFAULT_LOOKAHEAD = 64 * 1024
"""Bytes of a document searched for the insertion point before falling back or giving up."""

NEXT_TAG_WINDOW = 1024
"""After the insertion point, how far to look for the next start tag (it is the runtime in a page injected before)."""

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


class _State(enum.Enum):
    DATA = "data"
    COMMENT = "comment"
    UNTIL_GT = "until_gt"  # bogus comment, HTML doctype, HTML processing instruction
    XML_PI = "xml_pi"
    XML_CDATA = "xml_cdata"
    XML_DOCTYPE = "xml_doctype"
    TAG = "tag"
    RAWTEXT = "rawtext"
    SCRIPT = "script"
    PLAINTEXT = "plaintext"


class _Script(enum.Enum):
    DATA = 0
    ESCAPED = 1
    DOUBLE_ESCAPED = 2


_DOCUMENT_TAGS = frozenset({b"html", b"head", b"body", b"frameset", b"title", b"meta"})
"""First elements that mark a whole document rather than a fragment fetched by script."""


class Splicer:
    """Insert a snippet once into a document fed chunk by chunk, passing every other byte unchanged.

    The insertion point is inside <head>, right after its start tag, or after a <meta> charset
    declaration that the browser's 1024-byte prescan would find later on, so the snippet never
    pushes it out of that window. Without <head> it goes after <html>, else before the first
    element or text (which puts it into the head the parser implies); in XHTML it always goes
    inside the root element. Bytes are released as soon as they are known to come before the
    insertion point; at most `lookahead` bytes (plus the chunk being scanned) are held back.

    `snippet` is the tag itself or a SnippetFactory. `sniff` skips documents that start like a
    fragment (use it when the request said nothing about its destination). `charset_declared`
    is True when the Content-Type header names a known charset, which makes the browser skip
    the <meta> prescan. `encoding` is that charset, if any.
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
        self._snippet = snippet
        self._xml = xml
        self._sniff = sniff and not xml
        self._lookahead = max(lookahead, PRESCAN_BYTES)
        self._encoding = encoding
        self.outcome: str | None = None
        """"injected" or the reason the document was left alone; None until decided."""
        self.placement: str | None = None
        """Where the snippet went: "head", "after_meta", "after_html", "before_body", "before_frameset",
        "document_start" or "after_root"."""

        self._phase = _Phase.START
        self._buffer = bytearray()
        self._base = 0  # document offset of self._buffer[0]
        self._released: list[bytes] = []
        self._position = 0  # document offset where the pending token (or plain data) starts
        self._state = _State.DATA
        self._resume = 0  # document offset from which the pending token's end is searched
        self._rawtext_name = b""
        self._script = _Script.DATA
        self._template_depth = 0

        self._first = bytearray()  # the first PRESCAN_BYTES bytes, for the prescan
        self._need_prescan = not xml and encoding is None
        self._prescan_done = not self._need_prescan
        self._prescan_checked = 0
        self._prescan_result: PrescanResult | None = None
        self._meta_end: int | None = None
        self._after_meta: int | None = None
        self._first_escape: int | None = None

        self._root_end = 0
        self._point = 0
        self._document_like = False
        self._runtime_seen = False
        self._last_start_tag = -1
        self._tag_name = b""
        self._meta_policies: list[tuple[int, str]] = []

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
        if self._first_escape is None:
            index = data.find(b"\x1b")
            if index >= 0:
                self._first_escape = self._base + len(self._buffer) + index
        if len(self._first) < PRESCAN_BYTES:
            self._first += data[: PRESCAN_BYTES - len(self._first)]
        self._buffer += data

    def _drain(self) -> bytes:
        if self._phase is _Phase.DONE and self._buffer:
            self._released.append(bytes(self._buffer))
            self._base += len(self._buffer)
            self._buffer.clear()
        if not self._released:
            return b""
        out = b"".join(self._released)
        self._released.clear()
        return out

    def _release_to(self, offset: int) -> None:
        count = offset - self._base
        if count > 0:
            self._released.append(bytes(self._buffer[:count]))
            del self._buffer[:count]
            self._base = offset

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
        # A result found in a prefix stands: the prescan reads in order and stops at its first find.
        self._prescan_result = prescan(bytes(self._first))
        if self._prescan_result is not None:
            self._meta_end = self._prescan_result.end
            self._prescan_done = True
        elif complete:
            self._prescan_done = True

    def _ready(self) -> int | None:
        """Return the insertion offset once every check can be made, else None."""
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

    def _insert(self, target: int) -> None:
        if target != self._point:
            self.placement = "after_meta"
        if self._runtime_seen:
            self._skip("already_injected")
            return
        if self._declared_encoding() == "ISO-2022-JP" and self._first_escape is not None and self._first_escape < target:
            # Before an escape sequence ISO-2022-JP bytes read as ASCII; after one they may not,
            # so a '<' found by byte scanning might not be a '<' for the browser.
            self._skip("iso2022jp")
            return
        policies = [content for end, content in self._meta_policies if end <= target]
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
        return (before.encoding if before else None) == (after.encoding if after else None)

    # Tokenizer

    def _scan(self, limit: int, *, final: bool) -> None:
        """Tokenize from the pending position up to `limit`, reporting each complete token."""
        while self._phase is not _Phase.DONE:
            if self._phase is _Phase.FOUND and self._ready() is not None:
                return
            if self._state is _State.DATA:
                if not self._scan_data(limit, final):
                    return
                continue
            if self._state is _State.PLAINTEXT:
                self._position = limit
                return
            end = self._complete(limit)
            if end is None:
                return
            self._finish_token(end)

    def _scan_data(self, limit: int, final: bool) -> bool:
        """Handle text up to the next '<' and classify the markup there; return False when blocked."""
        buffer = self._buffer
        start = self._position
        less_than = buffer.find(b"<", start - self._base, limit - self._base)
        text_end = limit if less_than < 0 else less_than + self._base
        if text_end > start:
            self._on_text(start, text_end)
            if self._phase is _Phase.DONE:
                return False
            self._position = text_end
        if less_than < 0:
            return False
        index = less_than
        available = limit - self._base - index
        token_start = self._position

        if available < 2:
            if final:
                self._on_text(token_start, token_start + 1)
                self._position = token_start + 1
                return True
            return False
        second = buffer[index + 1]
        if second == 0x21:  # '!'
            return self._classify_declaration(index, available, final)
        if second == 0x2F:  # '/'
            if available < 3:
                return False
            third = buffer[index + 2]
            if third == 0x3E:  # "</>" is dropped by the tokenizer, as if it were not there
                self._emit_ignored(token_start + 3)
                return True
            if _is_letter(third):
                self._begin(_State.TAG)
                return True
            self._begin(_State.UNTIL_GT)
            return True
        if second == 0x3F:  # '?'
            if buffer[index : index + 5].lower() == b"<?xml":
                self._document_like = True
            self._begin(_State.XML_PI if self._xml else _State.UNTIL_GT)
            return True
        if _is_letter(second):
            self._begin(_State.TAG)
            return True
        self._on_text(token_start, token_start + 1)
        if self._phase is _Phase.DONE:
            return False
        self._position = token_start + 1
        return True

    def _classify_declaration(self, index: int, available: int, final: bool) -> bool:
        """Tell "<!--", "<!DOCTYPE" and "<![CDATA[" from a bogus comment, waiting for enough bytes."""
        head = bytes(self._buffer[index : index + 9])
        for keyword in (b"<!--", b"<!DOCTYPE", b"<![CDATA["):
            size = len(keyword)
            if head[:size].upper() == keyword:
                if keyword == b"<!--":
                    self._begin(_State.COMMENT)
                elif keyword == b"<!DOCTYPE":
                    self._document_like = True
                    self._begin(_State.XML_DOCTYPE if self._xml else _State.UNTIL_GT)
                else:
                    self._begin(_State.XML_CDATA if self._xml else _State.UNTIL_GT)
                return True
            if len(head) < size and keyword.startswith(head.upper()) and not final:
                return False
        self._begin(_State.UNTIL_GT)
        return True

    def _begin(self, state: _State) -> None:
        self._state = state
        self._resume = self._position

    def _complete(self, limit: int) -> int | None:
        """Return the document offset just past the pending token, or None while it is incomplete."""
        buffer = self._buffer
        base = self._base
        start = self._position - base
        end = limit - base
        state = self._state
        if state is _State.TAG:
            return self._complete_tag(start, end)
        if state is _State.COMMENT:
            if not self._xml:
                if buffer[start + 4 : start + 5] == b">" and end >= start + 5:
                    return base + start + 5
                if buffer[start + 4 : start + 6] == b"->" and end >= start + 6:
                    return base + start + 6
            pattern = tokens.COMMENT_END_XML if self._xml else tokens.COMMENT_END_HTML
            return self._search_end(pattern, start + 4, end, 4)
        if state is _State.UNTIL_GT:
            return self._search_bytes(b">", start + 2, end)
        if state is _State.XML_PI:
            return self._search_bytes(b"?>", start + 2, end)
        if state is _State.XML_CDATA:
            return self._search_bytes(b"]]>", start + 9, end)
        if state is _State.XML_DOCTYPE:
            close = buffer.find(b">", start, end)
            bracket = buffer.find(b"[", start, end)
            if bracket >= 0 and (close < 0 or bracket < close):
                return self._search_end(tokens.XML_DOCTYPE_SUBSET_END, bracket, end, 64)
            return base + close + 1 if close >= 0 else None
        if state is _State.RAWTEXT:
            return self._complete_rawtext(start, end)
        if state is _State.SCRIPT:
            return self._complete_script(start, end)
        raise AssertionError(f"no token end for state {state}")

    def _search_bytes(self, needle: bytes, start: int, end: int) -> int | None:
        begin = max(start, self._resume - self._base)
        found = self._buffer.find(needle, begin, end)
        if found < 0:
            self._resume = self._base + max(start, end - len(needle) + 1)
            return None
        return self._base + found + len(needle)

    def _search_end(self, pattern: re.Pattern[bytes], start: int, end: int, keep: int) -> int | None:
        begin = max(start, self._resume - self._base)
        match = pattern.search(self._buffer, begin, end)
        if match is None:
            self._resume = self._base + max(start, end - keep)
            return None
        return self._base + int(match.end())

    def _complete_tag(self, start: int, end: int) -> int | None:
        # A tag can only end at a '>', so try the full pattern again only when a new one arrived.
        greater = self._buffer.find(b">", max(start, self._resume - self._base), end)
        if greater < 0:
            self._resume = self._base + end
            return None
        match = tokens.TAG.match(self._buffer, start, end)
        if match is None:
            self._resume = self._base + greater + 1
            return None
        self._tag_name = bytes(match.group(1))
        return self._base + match.end()

    def _complete_rawtext(self, start: int, end: int) -> int | None:
        pattern = tokens.rawtext_end(self._rawtext_name)
        begin = max(start, self._resume - self._base)
        match = pattern.search(self._buffer, begin, end)
        if match is None:
            self._resume = self._base + max(start, end - len(self._rawtext_name) - 2)
            return None
        return self._base + match.start()

    def _complete_script(self, start: int, end: int) -> int | None:
        """Follow the script data, escaped and double-escaped states to the real </script>."""
        buffer = self._buffer
        while True:
            pattern = (tokens.SCRIPT_DATA, tokens.SCRIPT_ESCAPED, tokens.SCRIPT_DOUBLE_ESCAPED)[self._script.value]
            begin = max(start, self._resume - self._base)
            match = pattern.search(buffer, begin, end)
            if match is None:
                self._resume = self._base + max(start, end - tokens.SCRIPT_PATTERN_BYTES + 1)
                return None
            found = bytes(match.group(0)).lower()
            if found == b"<!--":
                self._script = _Script.ESCAPED
                # The dashes of "<!--" may also close it ("<!-->"), so search again from them.
                self._resume = self._base + match.start() + 2
            elif found == b"-->":
                self._script = _Script.DATA
                self._resume = self._base + match.end()
            elif found.startswith(b"</"):
                if self._script is _Script.DOUBLE_ESCAPED:
                    self._script = _Script.ESCAPED
                    self._resume = self._base + match.end()
                else:
                    return self._base + match.start()
            else:
                self._script = _Script.DOUBLE_ESCAPED
                self._resume = self._base + match.end()

    def _finish_token(self, end: int) -> None:
        """Report the token that just completed and move on to what follows it."""
        start = self._position
        state = self._state
        if state in (_State.RAWTEXT, _State.SCRIPT):
            # The raw text ends where its end tag begins; tokenize that end tag next.
            self._position = end
            self._state = _State.TAG
            self._resume = end
            return
        self._position = end
        self._state = _State.DATA
        if state is _State.TAG:
            self._on_tag(start, end)
        else:
            self._on_markup(end, closing_tag=False)

    def _emit_ignored(self, end: int) -> None:
        self._position = end
        self._on_markup(end, closing_tag=False)

    def _on_tag(self, start: int, end: int) -> None:
        closing = self._buffer[start + 1 - self._base] == 0x2F  # '/'
        name = self._tag_name if self._xml else self._tag_name.lower()
        if closing:
            if not self._xml and name == b"template" and self._template_depth:
                self._template_depth -= 1
            self._on_markup(end, closing_tag=True)
            return

        raw = b""
        if name in (b"script", b"meta") or self._xml:
            raw = bytes(self._buffer[start - self._base : end - self._base])
        if name == b"script" and is_runtime_tag(raw):
            self._runtime_seen = True
        if name == b"meta" and self._template_depth == 0:
            attributes = tokens.tag_attributes(raw)
            if attributes.get("http-equiv", "").strip().lower() == "content-security-policy":
                self._meta_policies.append((end, attributes.get("content", "")))
        self._last_start_tag = start
        if not self._xml:
            if name == b"template":
                self._template_depth += 1
            elif name == b"script":
                self._state, self._script, self._resume = _State.SCRIPT, _Script.DATA, end
            elif name in tokens.RAWTEXT_ELEMENTS:
                self._state, self._rawtext_name, self._resume = _State.RAWTEXT, name, end
            elif name == b"plaintext":
                self._state = _State.PLAINTEXT
        self._on_start_tag(name, raw, start, end, boundary=self._state is _State.DATA)

    # Placement

    def _on_text(self, start: int, end: int) -> None:
        if self._phase not in (_Phase.PROLOG, _Phase.AFTER_ROOT):
            return
        text = bytes(self._buffer[start - self._base : end - self._base])
        content = text.lstrip(WHITESPACE)
        if not content:
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

    def _on_markup(self, end: int, *, closing_tag: bool) -> None:
        """Handle a comment, declaration, CDATA section or end tag that ended at `end`."""
        if self._phase is _Phase.AFTER_ROOT and closing_tag:
            self._found(self._root_end, "after_root" if self._xml else "after_html")
        self._note_boundary(end, True)

    def _on_start_tag(self, name: bytes, raw: bytes, start: int, end: int, *, boundary: bool) -> None:
        if self._phase is _Phase.PROLOG:
            self._on_first_element(name, raw, start, end)
        elif self._phase is _Phase.AFTER_ROOT:
            if name == b"head":
                self._found(end, "head")
            else:
                self._found(self._root_end, "after_root" if self._xml else "after_html")
        self._note_boundary(end, boundary)

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


def _is_letter(byte: int) -> bool:
    return 0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A
