"""One rule file as loaded: its text, positioned node tree and bound model, and a cache of them for reloads."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from proxy.errors import InvalidFileError, Problem
from proxy.ruleset.matcher import Origin
from proxy.ruleset.model import RuleFile
from proxy.yamlbind import DEFAULT_MAX_BYTES, DEFAULT_MAX_NODES, BindContext, bind, compose, read_text

PathKey = list[str | int]
"""Keys and list indexes leading to a node, e.g. ["guides", 0, "title"]."""

MAX_ALIASES = 1000
"""Alias uses a rule file may contain, as yamlbind's composer allows."""

_CLoader = getattr(yaml, "CSafeLoader", None)


def display_path(path: Path) -> str:
    """Return a path as messages show it: relative to the working directory when below it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if relative.startswith("..") else relative


def compose_fast(text: str, display: str) -> yaml.Node | None:
    """Parse YAML into positioned nodes with libyaml when available, else as yamlbind.compose does.

    libyaml is about fifteen times faster than the pure-Python parser and builds the same node
    tree, except that it marks plain scalars with style '' instead of None (yamlbind treats both
    as plain). Any error, and any document with more than MAX_ALIASES alias uses, is parsed again
    by yamlbind.compose, so that problems are reported in exactly the same words.
    """
    if _CLoader is None:
        return compose(text, display)
    try:
        root = yaml.compose(text, Loader=_CLoader)
    except yaml.YAMLError:
        return compose(text, display)
    # Without an anchor ('&') a document has no aliases to count.
    if root is not None and "&" in text and _count_aliases(root) > MAX_ALIASES:
        return compose(text, display)
    return root


def _count_aliases(root: yaml.Node) -> int:
    """Count alias uses: nodes reached a second time while walking the tree."""
    seen: set[int] = set()
    aliases = 0
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            aliases += 1
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.append(key)
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return aliases


def _walk(root: yaml.Node | None, path: PathKey) -> tuple[yaml.Node, yaml.Node] | None:
    """Return (key node, value node) at `path`, or None when a step of it is missing."""
    node = root
    key_node: yaml.Node | None = root
    for step in path:
        found: tuple[yaml.Node, yaml.Node] | None = None
        if isinstance(node, yaml.MappingNode) and isinstance(step, str):
            for candidate_key, candidate_value in node.value:
                if isinstance(candidate_key, yaml.ScalarNode) and candidate_key.value == step:
                    found = (candidate_key, candidate_value)
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            found = (node.value[step], node.value[step])
        elif node is not None and not isinstance(node, yaml.SequenceNode) and step == 0:
            # A single value written where a list is expected is that list's only item.
            found = (node, node)
        if found is None:
            return None
        key_node, node = found
    if node is None or key_node is None:
        return None
    return key_node, node


def locate(root: yaml.Node | None, path: PathKey, *, key: bool = False) -> yaml.Node | None:
    """Find the node at `path` (keys and list indexes), or the deepest ancestor that exists."""
    for length in range(len(path), -1, -1):
        found = _walk(root, path[:length])
        if found is not None:
            return found[0] if key and length == len(path) else found[1]
    return root


@dataclass
class BoundFile:
    """A rule file that bound cleanly.

    The node tree positions problems found after binding. It is dropped (`forget_tree`) once a load
    is over, because it takes several times the memory of the model, and parsed again from `text`
    when a later load needs a position in this file.
    """

    path: Path
    display: str
    text: str
    rules: RuleFile
    root: yaml.Node | None = None
    origins: dict[tuple[str, str], Origin] = field(default_factory=dict)

    def tree(self) -> yaml.Node | None:
        if self.root is None:
            self.root = compose_fast(self.text, self.display)
        return self.root

    def forget_tree(self) -> None:
        self.root = None

    def at(self, path: PathKey, message: str, *, key: bool = False) -> Problem:
        """Return a problem at the node (or key) at `path`, or at its deepest ancestor that exists."""
        node = locate(self.tree(), path, key=key)
        mark = node.start_mark if node is not None else None
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return Problem(self.display, line, column, message)

    def has(self, path: PathKey) -> bool:
        """Return whether the key at `path` is written in the file."""
        return _walk(self.tree(), path) is not None

    def keys(self, path: PathKey) -> set[str]:
        """Return the keys written in the mapping at `path`, or none when there is no mapping."""
        found = _walk(self.tree(), path)
        if found is None or not isinstance(found[1], yaml.MappingNode):
            return set()
        return {str(key.value) for key, _ in found[1].value if isinstance(key, yaml.ScalarNode)}


def bind_rule_file(
    path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, max_nodes: int = DEFAULT_MAX_NODES, text: str | None = None
) -> BoundFile:
    """Read, parse and bind one rule file; raise InvalidFileError with every problem in it."""
    display = display_path(path)
    if text is None:
        text = read_text(path, display, max_bytes)
    root = compose_fast(text, display)
    context = BindContext(display, environ={}, max_nodes=max_nodes)
    rules = bind(root, RuleFile, context)
    bound = BoundFile(path, display, text, rules, root)
    bound.origins = _origins(bound)
    return bound


def _origins(bound: BoundFile) -> dict[tuple[str, str], Origin]:
    """Find where each guide, workflow, feature, workflow step and exclusion of the file starts."""
    origins: dict[tuple[str, str], Origin] = {}
    for section in ("guides", "workflows", "features"):
        rules = getattr(bound.rules, section)
        for rule, where in zip(rules, _item_origins(bound, [section], len(rules))):
            origins[(section.rstrip("s"), rule.id)] = where
    for index, workflow in enumerate(bound.rules.workflows):
        named: list[tuple[str, str, tuple[str, ...]]] = [
            ("steps", "step", tuple(step.name for step in workflow.steps)),
            ("exclusions", "exclusion", tuple(exclusion.name for exclusion in workflow.exclusions)),
        ]
        for key, kind, names in named:
            for name, where in zip(names, _item_origins(bound, ["workflows", index, key], len(names))):
                origins[(kind, f"{workflow.id}/{name}")] = where
    return origins


def _item_origins(bound: BoundFile, path: PathKey, count: int) -> list[Origin]:
    """Find where each of the `count` items of the list at `path` starts, in one walk."""
    node = locate(bound.tree(), path)
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    if len(items) != count or not all(isinstance(item, yaml.Node) for item in items):
        # Merge keys can make the bound list differ from the written one; place each item singly.
        located = [bound.at(path + [index], "") for index in range(count)]
        return [Origin(problem.file, problem.line, problem.column) for problem in located]
    return [
        Origin(bound.display, item.start_mark.line + 1, item.start_mark.column + 1)
        for item in items
        if isinstance(item, yaml.Node)
    ]


@dataclass
class _Entry:
    digest: bytes
    display: str
    bound: BoundFile | None
    problems: list[Problem]


class RuleFileCache:
    """Bound rule files and their own problems from earlier loads, reused while a file's text is unchanged.

    A reload then parses and binds only the files that changed. Every file is still read and
    hashed, and the checks across files run on the whole set again. The cache is not thread-safe,
    so give each loader its own (the rule watcher loads one set at a time).
    """

    def __init__(self) -> None:
        self._entries: dict[Path, _Entry] = {}

    def bind(self, path: Path, *, max_bytes: int, max_nodes: int) -> tuple[BoundFile | None, list[Problem], bool]:
        """Return (bound file or None, the file's own problems, whether it came from the cache).

        Raises InvalidFileError when the file cannot be read (missing, too big, not UTF-8).
        """
        display = display_path(path)
        text = read_text(path, display, max_bytes)
        digest = hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()
        key = path.resolve()
        entry = self._entries.get(key)
        if entry is not None and entry.digest == digest and entry.display == display:
            return entry.bound, entry.problems, True
        try:
            bound: BoundFile | None = bind_rule_file(path, max_bytes=max_bytes, max_nodes=max_nodes, text=text)
            problems: list[Problem] = []
        except InvalidFileError as error:
            bound, problems = None, list(error.problems)
        self._entries[key] = _Entry(digest, display, bound, problems)
        return bound, problems, False

    def remember_problems(self, path: Path, problems: list[Problem]) -> None:
        """Add the problems that checks of this file alone found, to be returned with it next time."""
        entry = self._entries.get(path.resolve())
        if entry is not None:
            entry.problems = entry.problems + problems

    def retain(self, paths: set[Path]) -> None:
        """Forget files that are no longer part of the rules."""
        for key in [key for key in self._entries if key not in paths]:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)
