"""Parsers for the value types that configuration files write as text: sizes, durations, networks, URLs."""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "kib": 1024,
    "mb": 1000**2,
    "mib": 1024**2,
    "gb": 1000**3,
    "gib": 1024**3,
}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

SIZE_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "integer", "minimum": 0},
        {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*([KMG]i?B|B)?\s*$"},
    ]
}
DURATION_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$"},
    ]
}


def parse_size(value: Any) -> int:
    """Parse a byte size such as 65536, "64KiB" or "10 MB" into bytes."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    match = _SIZE.match(str(value)) if isinstance(value, str) else None
    if not match:
        raise ValueError("expected a size in bytes such as 65536, '64KiB' or '10MB'")
    number, unit = match.groups()
    return int(float(number) * _SIZE_UNITS[(unit or "b").lower()])


def parse_duration(value: Any) -> float:
    """Parse a duration such as 5, 2.5, "250ms", "30s", "5m" or "1h" into seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    match = _DURATION.match(value) if isinstance(value, str) else None
    if not match:
        raise ValueError("expected a duration such as 5, '250ms', '30s', '5m' or '1h'")
    number, unit = match.groups()
    return float(number) * _DURATION_UNITS[unit or "s"]


def parse_network(value: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """Parse an address or CIDR block such as "10.0.0.0/8" or "::1"."""
    try:
        return ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise ValueError("expected an IP address or CIDR block such as '127.0.0.1' or '10.0.0.0/8'") from None


def parse_upstream_url(value: Any) -> str:
    """Check an upstream URL: http or https, a host, no query or fragment; return it with a trailing slash."""
    text = str(value).strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an absolute http:// or https:// URL such as 'http://127.0.0.1:8081/'")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("expected a URL without credentials, query or fragment")
    try:
        parts.port
    except ValueError:
        raise ValueError("expected a port number from 1 to 65535 in the URL") from None
    path = parts.path or "/"
    if not path.endswith("/"):
        path += "/"
    return f"{parts.scheme}://{parts.netloc}{path}"


def parse_path_prefix(value: Any) -> str:
    """Check a public path prefix such as "/" or "/legacy/"; return it with a trailing slash."""
    text = str(value)
    if not text.startswith("/") or any(character in text for character in "?#%\\ ") or "//" in text:
        raise ValueError("expected a path that starts with '/' such as '/' or '/erp/', without query or spaces")
    return text if text.endswith("/") else text + "/"


def parse_prefix(value: Any) -> str:
    """Check the reserved prefix: a path of at least one segment that starts and ends with '/'."""
    text = parse_path_prefix(value)
    if text == "/":
        raise ValueError("expected a path of at least one segment such as '/__guidegate/'")
    return text


_HOST = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$")


def parse_host(value: Any) -> str:
    """Check a Host header value to route by, such as "erp.example.com" or "erp.example.com:8080"."""
    text = str(value).strip().lower()
    if not _HOST.match(text):
        raise ValueError("expected a host name with an optional port such as 'erp.example.com:8080'")
    return text
