"""Read form field names (and allowlisted values) from a request body as it streams upstream.

Three body types are understood: `application/x-www-form-urlencoded` and `multipart/form-data`
are scanned incrementally, so a large upload costs no memory beyond a small window;
JSON is read from a bounded copy. Values are kept only for allowlisted field names, and never
for file parts.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus, unquote_to_bytes

MAX_FIELDS = 256
"""Field names kept per request; a form with more is marked truncated."""

MAX_NAME_BYTES = 256
MAX_VALUE_BYTES = 256
"""Longest field name (in characters) and allowlisted value (in UTF-8 bytes) kept; longer ones are cut."""

MAX_JSON_BYTES = 64 * 1024
"""Largest JSON body parsed for its keys."""

MAX_PART_HEADER_BYTES = 8 * 1024

_BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^\s;]+))', re.IGNORECASE)
_DISPOSITION_NAME = re.compile(rb'[\s;]name="((?:[^"\\]|\\.)*)"|[\s;]name=([^\s;"]+)', re.IGNORECASE)
_DISPOSITION_FILE = re.compile(rb"[\s;]filename\*?=", re.IGNORECASE)
_PARTIAL_ESCAPE = re.compile(rb"%[0-9A-Fa-f]?$")


def cut_value(data: bytes) -> str:
    """Decode a value as UTF-8, cut to MAX_VALUE_BYTES without leaving half a character at the cut."""
    if len(data) <= MAX_VALUE_BYTES:
        return data.decode("utf-8", "replace")
    return codecs.getincrementaldecoder("utf-8")("replace").decode(data[:MAX_VALUE_BYTES], final=False)


@dataclass
class FormSummary:
    """Summary of a request body: its field names in order, allowlisted values, and its type."""

    kind: str = "none"
    names: list[str] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)
    truncated: bool = False

    def add(self, name: str, value: str | None, allow_values: frozenset[str]) -> None:
        if name in self.names:
            return
        if len(self.names) >= MAX_FIELDS:
            self.truncated = True
            return
        self.names.append(name)
        if value is not None and name in allow_values:
            encoded = value.encode("utf-8", "surrogatepass")
            self.values[name] = value if len(encoded) <= MAX_VALUE_BYTES else cut_value(encoded)


def form_reader(content_type: str | None, allow_values: frozenset[str]) -> "FormReader":
    """Return the reader for a request's Content-Type; bodies of other types yield no fields."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        return UrlencodedReader(allow_values)
    if media == "multipart/form-data":
        match = _BOUNDARY.search(content_type or "")
        if match:
            return MultipartReader((match.group(1) or match.group(2)).encode("latin-1", "replace"), allow_values)
    if media == "application/json" or media.endswith("+json"):
        return JsonReader(allow_values)
    return FormReader(allow_values)


class FormReader:
    """A reader for bodies that carry no form fields; the base of the real readers."""

    def __init__(self, allow_values: frozenset[str]) -> None:
        self.allow_values = allow_values
        self.summary = FormSummary()

    def feed(self, chunk: bytes) -> None:
        """Read the next piece of the body."""

    def finish(self) -> FormSummary:
        """Return what the whole body revealed."""
        return self.summary


class UrlencodedReader(FormReader):
    """Scans `name=value&name=value` incrementally, keeping at most one bounded pair at a time."""

    def __init__(self, allow_values: frozenset[str]) -> None:
        super().__init__(allow_values)
        self.summary.kind = "urlencoded"
        self._pair = bytearray()
        self._overflow = False

    def feed(self, chunk: bytes) -> None:
        start = 0
        while True:
            end = chunk.find(b"&", start)
            if end < 0:
                self._extend(chunk[start:])
                return
            self._extend(chunk[start:end])
            self._close_pair()
            start = end + 1

    def _extend(self, piece: bytes) -> None:
        # Room for a name and a value percent-encoded whole, plus one more encoded byte so a cut value is seen as cut.
        room = (MAX_NAME_BYTES + MAX_VALUE_BYTES + 1) * 3 + 1 - len(self._pair)
        if len(piece) > room:
            self._overflow = True
            piece = piece[: max(room, 0)]
        self._pair += piece

    def _close_pair(self) -> None:
        if self._pair:
            raw_name, separator, raw_value = bytes(self._pair).partition(b"=")
            name = unquote_plus(raw_name.decode("latin-1"))[:MAX_NAME_BYTES]
            if self._overflow:
                # The pair was cut, possibly inside an escape, so drop a partial escape. cut_value then cuts the value to its limit.
                raw_value = _PARTIAL_ESCAPE.sub(b"", raw_value)
            value = cut_value(unquote_to_bytes(raw_value.replace(b"+", b" "))) if separator else ""
            if name:
                self.summary.add(name, value, self.allow_values)
        self._pair.clear()
        self._overflow = False

    def finish(self) -> FormSummary:
        self._close_pair()
        return self.summary


class MultipartReader(FormReader):
    """Scans multipart parts incrementally: part headers are read, part bodies skipped or kept bounded."""

    def __init__(self, boundary: bytes, allow_values: frozenset[str]) -> None:
        super().__init__(allow_values)
        self.summary.kind = "multipart"
        self._delimiter = b"\r\n--" + boundary
        self._buffer = bytearray(b"\r\n")  # The first delimiter has no CRLF before it.
        self._state = "preamble"
        self._name: str | None = None
        self._keep = False
        self._value = bytearray()

    def feed(self, chunk: bytes) -> None:
        self._buffer += chunk
        while self._step():
            pass

    def _step(self) -> bool:
        """Advance the state machine once; return False when more input is needed."""
        if self._state == "done":
            self._buffer.clear()
            return False
        if self._state in ("preamble", "body"):
            index = self._buffer.find(self._delimiter)
            if index < 0:
                # Keep only what could be the start of a delimiter split across chunks.
                keep = len(self._delimiter) - 1
                if self._state == "body" and self._keep:
                    self._store(bytes(self._buffer[:-keep] if len(self._buffer) > keep else b""))
                del self._buffer[: max(len(self._buffer) - keep, 0)]
                return False
            if self._state == "body":
                if self._keep:
                    self._store(bytes(self._buffer[:index]))
                self._end_part()
            del self._buffer[: index + len(self._delimiter)]
            self._state = "after_delimiter"
            return True
        if self._state == "after_delimiter":
            if len(self._buffer) < 2:
                return False
            if self._buffer[:2] == b"--":
                self._state = "done"
                return True
            end = self._buffer.find(b"\r\n")
            if end < 0:
                return False
            del self._buffer[: end + 2]
            self._state = "headers"
            return True
        # Part headers, up to the blank line.
        end = self._buffer.find(b"\r\n\r\n")
        # Judged by the header's length, not by how much arrived at once, so chunking never matters:
        # until the blank line arrives, up to 3 of its 4 bytes may already be in the buffer.
        if end > MAX_PART_HEADER_BYTES or (end < 0 and len(self._buffer) > MAX_PART_HEADER_BYTES + 3):
            self.summary.truncated = True
            self._state = "done"
            return True
        if end < 0:
            return False
        self._start_part(bytes(self._buffer[:end]))
        del self._buffer[: end + 4]
        self._state = "body"
        return True

    def _start_part(self, headers: bytes) -> None:
        self._name = None
        self._keep = False
        self._value.clear()
        for line in headers.split(b"\r\n"):
            header, _, rest = line.partition(b":")
            if header.strip().lower() != b"content-disposition":
                continue
            match = _DISPOSITION_NAME.search(b";" + rest)
            if match:
                raw = match.group(1) if match.group(1) is not None else match.group(2)
                self._name = raw.decode("utf-8", "replace")[:MAX_NAME_BYTES]
                is_file = _DISPOSITION_FILE.search(b";" + rest) is not None
                self._keep = not is_file and self._name in self.allow_values

    def _store(self, data: bytes) -> None:
        # Keep one byte over the limit, so that cut_value can tell that the value was cut.
        room = MAX_VALUE_BYTES + 1 - len(self._value)
        if room > 0:
            self._value += data[:room]

    def _end_part(self) -> None:
        if self._name:
            value = cut_value(bytes(self._value)) if self._keep else None
            self.summary.add(self._name, value, self.allow_values)
        self._name = None
        self._keep = False
        self._value.clear()


class JsonReader(FormReader):
    """Keeps a bounded copy of a JSON body and reads its keys (nested keys as `a.b`) at the end."""

    def __init__(self, allow_values: frozenset[str]) -> None:
        super().__init__(allow_values)
        self.summary.kind = "json"
        self._copy = bytearray()

    def feed(self, chunk: bytes) -> None:
        room = MAX_JSON_BYTES - len(self._copy)
        if len(chunk) > room:
            self.summary.truncated = True
        if room > 0:
            self._copy += chunk[:room]

    def finish(self) -> FormSummary:
        if self.summary.truncated:
            return self.summary
        try:
            document = json.loads(bytes(self._copy))
        except (ValueError, UnicodeDecodeError):
            return self.summary
        self._walk(document, "", depth=0)
        return self.summary

    def _walk(self, node: Any, prefix: str, depth: int) -> None:
        if not isinstance(node, dict) or depth > 3:
            return
        for key, value in node.items():
            name = f"{prefix}{key}"
            scalar = value if isinstance(value, (str, int, float, bool)) and not isinstance(value, bool) else None
            if isinstance(value, bool):
                scalar = "true" if value else "false"
            self.summary.add(name, None if scalar is None else str(scalar), self.allow_values)
            self._walk(value, f"{name}.", depth + 1)
