"""Incremental HTML tokenizer over a growing byte buffer: token boundaries found without copying the document."""

from __future__ import annotations

import enum
import re

from proxy.rewrite import tokens


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


_LETTERS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


class Scanner:
    """Tokenize a document that arrives in chunks, as the HTML tokenizer would, and report each token.

    Offsets are document offsets (bytes since the start of the body). The scanner keeps the bytes
    not yet released, and a subclass decides through the hooks below which bytes to release and
    when to stop. In `xml` mode no element has raw text, and CDATA sections and processing
    instructions end where XML ends them.
    """

    def __init__(self, *, xml: bool) -> None:
        self._xml = xml
        # Bytes not yet returned start at self._buffer[self._front]; self._buffer[0] is at document
        # offset self._base. A chunk that arrives with nothing held is kept as is, without a copy.
        self._buffer: bytes | bytearray = b""
        self._base = 0
        self._front = 0
        self._released: list[bytes | memoryview] = []
        self._escape_released = False
        self._position = 0  # document offset where the pending token (or plain data) starts
        self._state = _State.DATA
        self._kind = ""  # what the pending declaration is: "comment", "doctype", ...
        self._resume = 0  # document offset from which the pending token's end is searched
        self._rawtext_name = b""
        self._script = _Script.DATA
        self._tag_name = b""

    # Hooks for the subclass

    def _scanning(self) -> bool:
        """Tell whether to go on tokenizing."""
        raise NotImplementedError

    def _stopped(self) -> bool:
        """Tell whether a hook has just ended the scan for good."""
        raise NotImplementedError

    def _skip_data(self, limit: int) -> None:
        """Move the position past whole tokens that do not matter to the subclass (by default none).

        Called between tokens, in the data state, before the text or markup at the position is read.
        """

    def _on_text(self, start: int, end: int) -> None:
        """Handle text (character data outside raw text) from `start` to `end`."""

    def _on_markup(self, kind: str, start: int, end: int) -> None:
        """Handle a "comment", "doctype", "cdata", "processing_instruction", "declaration" or "ignored" token."""

    def _on_start_tag(self, name: bytes, start: int, end: int, *, boundary: bool) -> None:
        """Handle a start tag; `boundary` is False when raw text (script, style ...) follows it."""

    def _on_end_tag(self, name: bytes, start: int, end: int) -> None:
        """Handle an end tag."""

    # Buffer

    def _take(self, data: bytes) -> None:
        if self._front == len(self._buffer):
            self._base += len(self._buffer)
            self._buffer = data
            self._front = 0
            return
        if self._front or isinstance(self._buffer, bytes):
            held = bytearray(memoryview(self._buffer)[self._front :])
            self._base += self._front
            self._front = 0
            self._buffer = held
        self._buffer += data

    def _token_bytes(self, start: int, end: int) -> bytes:
        return bytes(self._buffer[start - self._base : end - self._base])

    def _release_to(self, offset: int) -> None:
        index = offset - self._base
        if index > self._front:
            piece = self._buffer[self._front : index]
            self._escape_released = self._escape_released or b"\x1b" in piece
            self._released.append(bytes(piece))
            self._front = index

    def _release_all(self) -> None:
        if self._front < len(self._buffer):
            rest = self._buffer
            self._released.append(memoryview(rest)[self._front :] if self._front else bytes(rest))
            self._base += len(rest)
            self._buffer = b""
            self._front = 0

    def _pop_released(self) -> bytes:
        if not self._released:
            return b""
        if len(self._released) == 1 and isinstance(self._released[0], bytes):
            out = self._released[0]
        else:
            out = b"".join(self._released)
        self._released.clear()
        return out

    def _escape_before(self, offset: int) -> bool:
        """Tell whether an ESC byte (0x1B) occurs before `offset`, which only matters in ISO-2022-JP."""
        return self._escape_released or self._buffer.find(b"\x1b", self._front, offset - self._base) >= 0

    # Tokenizer

    def _scan(self, limit: int, *, final: bool) -> None:
        """Tokenize from the pending position up to `limit`, reporting each complete token."""
        while self._scanning():
            if self._state is _State.DATA:
                self._skip_data(limit)
                if not self._scan_data(limit, final):
                    return
                continue
            if self._state is _State.PLAINTEXT:
                self._position = limit
                return
            if self._state is _State.TAG:
                end = self._complete_tag(self._position - self._base, limit - self._base)
            else:
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
            if self._stopped():
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
                self._position = token_start + 3
                self._on_markup("ignored", token_start, token_start + 3)
                return True
            if third in _LETTERS:
                self._state = _State.TAG
                self._resume = token_start
                return True
            self._begin(_State.UNTIL_GT, "declaration")
            return True
        if second == 0x3F:  # '?'
            self._begin(_State.XML_PI if self._xml else _State.UNTIL_GT, "processing_instruction")
            return True
        if second in _LETTERS:
            self._state = _State.TAG
            self._resume = token_start
            return True
        self._on_text(token_start, token_start + 1)
        if self._stopped():
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
                    self._begin(_State.COMMENT, "comment")
                elif keyword == b"<!DOCTYPE":
                    self._begin(_State.XML_DOCTYPE if self._xml else _State.UNTIL_GT, "doctype")
                else:
                    self._begin(_State.XML_CDATA if self._xml else _State.UNTIL_GT, "cdata")
                return True
            if len(head) < size and keyword.startswith(head.upper()) and not final:
                return False
        self._begin(_State.UNTIL_GT, "declaration")
        return True

    def _begin(self, state: _State, kind: str) -> None:
        self._state = state
        self._kind = kind
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
            self._on_markup(self._kind, start, end)

    def _on_tag(self, start: int, end: int) -> None:
        name = self._tag_name if self._xml else self._tag_name.lower()
        if self._buffer[start + 1 - self._base] == 0x2F:  # '/'
            self._on_end_tag(name, start, end)
            return
        if not self._xml:
            if name == b"script":
                self._state, self._script, self._resume = _State.SCRIPT, _Script.DATA, end
            elif name in tokens.RAWTEXT_ELEMENTS:
                self._state, self._rawtext_name, self._resume = _State.RAWTEXT, name, end
            elif name == b"plaintext":
                self._state = _State.PLAINTEXT
        self._on_start_tag(name, start, end, boundary=self._state is _State.DATA)
