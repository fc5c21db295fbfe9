"""A path index that finds the patterns able to match a path without testing every pattern.

Exact paths sit in a dict. Every other pattern hangs in a trie under its leading literal segments
(`/po/{id}/edit` under `po`, `re:^/po/[0-9]+$` under `po`), so a lookup tests only the patterns
whose literal prefix the path shares. A pattern without one but with a literal last segment
(`/**/edit`) is filed under that segment; the rest (`/**`, most regexes) are always tested.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from proxy.ruleset.compiled import CompiledPath

T = TypeVar("T")

_Item = tuple[int, CompiledPath, Any]


class _Node:
    __slots__ = ("children", "items")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.items: list[_Item] = []


class PathIndex(Generic[T]):
    """Maps a request path to the values whose compiled path matches it, in insertion order."""

    __slots__ = ("_exact", "_root", "_suffix", "_case_sensitive", "size", "_deep")

    def __init__(self, entries: Iterable[tuple[CompiledPath, T]], case_sensitive: bool) -> None:
        self._case_sensitive = case_sensitive
        self._exact: dict[str, list[_Item]] = {}
        self._root = _Node()
        self._suffix: dict[str, list[_Item]] = {}
        self.size = 0
        for sequence, (compiled, value) in enumerate(entries):
            item: _Item = (sequence, compiled, value)
            self.size += 1
            if compiled.exact is not None:
                self._exact.setdefault(compiled.exact, []).append(item)
                continue
            pattern = compiled.pattern
            if not pattern.literal_prefix and pattern.literal_suffix is not None:
                suffix = pattern.literal_suffix if case_sensitive else pattern.literal_suffix.casefold()
                self._suffix.setdefault(suffix, []).append(item)
                continue
            node = self._root
            for segment in pattern.literal_prefix:
                key = segment if case_sensitive else segment.casefold()
                node = node.children.setdefault(key, _Node())
            node.items.append(item)
        self._deep = bool(self._root.children)

    def lookup(self, path: str) -> list[tuple[T, dict[str, Any]]]:
        """Return (value, captured parameters) for every pattern that matches `path`."""
        key = path if self._case_sensitive else path.casefold()
        found: list[tuple[int, T, dict[str, Any]]] = []
        exact = self._exact.get(key)
        if exact is not None:
            found.extend((sequence, value, {}) for sequence, _, value in exact)
        node = self._root
        self._collect(node, path, found)
        if self._suffix:
            ending = self._suffix.get(key[key.rfind("/") + 1:])
            if ending is not None:
                self._collect_items(ending, path, found)
        if self._deep:
            for segment in key[1:].split("/"):
                child = node.children.get(segment)
                if child is None:
                    break
                node = child
                self._collect(node, path, found)
        if len(found) > 1:
            found.sort(key=lambda entry: entry[0])
        return [(value, params) for _, value, params in found]

    @staticmethod
    def _collect(node: _Node, path: str, found: list[tuple[int, Any, dict[str, Any]]]) -> None:
        for sequence, compiled, value in node.items:
            params = compiled.match(path)
            if params is not None:
                found.append((sequence, value, params))

    @staticmethod
    def _collect_items(items: list[_Item], path: str, found: list[tuple[int, Any, dict[str, Any]]]) -> None:
        for sequence, compiled, value in items:
            params = compiled.match(path)
            if params is not None:
                found.append((sequence, value, params))
