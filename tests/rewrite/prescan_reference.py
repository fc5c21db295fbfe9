"""A byte-by-byte transcription of the HTML standard's encoding prescan, the oracle for the fast one."""

from __future__ import annotations

import re

from proxy.rewrite.charset import UTF16_ENCODINGS, PrescanResult, extract_meta_charset, lookup_label

META_START = re.compile(rb"<meta[\t\n\f\r /]", re.IGNORECASE)
TAG_START = re.compile(rb"</?[A-Za-z]")


def reference_prescan(data: bytes) -> PrescanResult | None:
    """The prescan written byte by byte as the HTML standard states it, to check the fast one against."""
    position = 0
    end = len(data)
    while position < end:
        less_than = data.find(b"<", position)
        if less_than < 0:
            return None
        position = less_than
        if data.startswith(b"<!--", position):
            close = data.find(b"-->", position + 2)
            if close < 0:
                return None
            position = close + 3
            continue
        if META_START.match(data, position):
            found = _prescan_meta(data, position + 5)
            if isinstance(found, PrescanResult):
                return found
            if found < 0:
                return None
            position = found + 1
            continue
        if TAG_START.match(data, position):
            after_name = _find_any(data, position + 1, b"\t\n\f\r >")
            if after_name < 0:
                return None
            position = after_name
            while True:
                attribute = _get_attribute(data, position)
                if attribute is None:
                    return None
                name, _value, position = attribute
                if name is None:
                    break
            position += 1
            continue
        if data.startswith((b"<!", b"</", b"<?"), position):
            close = data.find(b">", position + 2)
            if close < 0:
                return None
            position = close + 1
            continue
        position += 1
    return None


def _prescan_meta(data: bytes, position: int) -> PrescanResult | int:
    seen: set[str] = set()
    got_pragma = False
    need_pragma: bool | None = None
    charset: str | None | bool = None  # False stands for the standard's "failure"
    while True:
        attribute = _get_attribute(data, position)
        if attribute is None:
            return -1
        name, value, position = attribute
        if name is None:
            break
        if name in seen:
            continue
        seen.add(name)
        if name == "http-equiv":
            if value == "content-type":
                got_pragma = True
        elif name == "content":
            extracted = extract_meta_charset(value)
            if extracted is not None and charset is None:
                charset = extracted
                need_pragma = True
        elif name == "charset":
            charset = lookup_label(value) or False
            need_pragma = False
    if need_pragma is None or (need_pragma and not got_pragma) or not isinstance(charset, str):
        return position
    if charset in UTF16_ENCODINGS:
        charset = "UTF-8"
    elif charset == "x-user-defined":
        charset = "windows-1252"
    return PrescanResult(charset, position + 1)


def _find_any(data: bytes, position: int, stops: bytes) -> int:
    while position < len(data):
        if data[position] in stops:
            return position
        position += 1
    return -1


def _get_attribute(data: bytes, position: int) -> tuple[str | None, str, int] | None:
    """The standard's "get an attribute": (name, value, position), or (None, "", position) at '>'."""
    end = len(data)
    while position < end and data[position] in b"\t\n\f\r /":
        position += 1
    if position >= end:
        return None
    if data[position] == 0x3E:
        return None, "", position
    name = bytearray()
    while True:
        if position >= end:
            return None
        byte = data[position]
        if byte == 0x3D and name:
            position += 1
            break
        if byte in b"\t\n\f\r ":
            while position < end and data[position] in b"\t\n\f\r ":
                position += 1
            if position >= end:
                return None
            if data[position] != 0x3D:
                return _text(name), "", position
            position += 1
            break
        if byte in b"/>":
            return _text(name), "", position
        name.append(byte)
        position += 1
    while position < end and data[position] in b"\t\n\f\r ":
        position += 1
    if position >= end:
        return None
    value = bytearray()
    quote = data[position]
    if quote in b"\"'":
        close = data.find(bytes((quote,)), position + 1)
        if close < 0:
            return None
        return _text(name), _text(data[position + 1 : close]), close + 1
    if quote == 0x3E:
        return _text(name), "", position
    while position < end and data[position] not in b"\t\n\f\r >":
        value.append(data[position])
        position += 1
    if position >= end:
        return None
    return _text(name), _text(value), position


def _text(raw: bytes | bytearray) -> str:
    return bytes(raw).decode("latin-1").lower()
