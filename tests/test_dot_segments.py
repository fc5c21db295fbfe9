"""Dot segments in request targets, plain or percent-encoded, with '/' or '\\' as separators."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.routing import has_dot_segment


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        pytest.param("/", False, id="root"),
        pytest.param("/pages/page-20480.html", False, id="dot-inside-name"),
        pytest.param("/a/.hidden/b", False, id="dot-file-name"),
        pytest.param("/a/./b", True, id="dot"),
        pytest.param("/a/../b", True, id="dot-dot"),
        pytest.param("/a/..", True, id="dot-dot-at-end"),
        pytest.param("/a/%2e%2E/b", True, id="encoded-dot-dot"),
        pytest.param("/a/.%2e/b", True, id="half-encoded"),
        pytest.param("/a\\..\\b", True, id="backslashes"),
        pytest.param("/a%5c..%5cb", True, id="encoded-backslashes"),
        pytest.param("/a/b?next=/../c", False, id="dots-in-query"),
        pytest.param("..", True, id="bare-dot-dot"),
        pytest.param("http://erp.example/a/../b", True, id="absolute-form"),
        pytest.param("http://erp.example/a.b/c", False, id="absolute-form-plain"),
    ],
)
def test_dot_segments(target: str, expected: bool) -> None:
    assert has_dot_segment(target) is expected


_SEPARATOR = re.compile(r"/|\\|%5c", re.IGNORECASE)
_DOTS = {".", "..", "%2e", "%2e%2e", ".%2e", "%2e."}


def reference(target: str) -> bool:
    """The definition: some segment of the path, split at every separator, is a dot segment."""
    path = target.split("?", 1)[0]
    return any(segment.lower() in _DOTS for segment in _SEPARATOR.split(path))


@given(st.text(alphabet="/\\.%25cCeEa?", max_size=24))
def test_same_as_definition(target: str) -> None:
    assert has_dot_segment(target) is reference(target)
