"""Load YAML with positions and bind it to frozen dataclasses, reporting every problem at once.

Both config.yaml and the rule files go through this module, so they share one error format
(`file:line:column: what is wrong; what is expected`), one set of safety limits (file size,
alias expansion) and one JSON Schema generator.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

from proxy.errors import InvalidFileError, Problem

T = TypeVar("T")

DEFAULT_MAX_BYTES = 1024 * 1024
"""Largest YAML file accepted; rule and config files are small, so anything bigger is a mistake."""

DEFAULT_MAX_NODES = 100_000
"""Largest number of nodes a document may expand to, counting every alias use (anchor bombs)."""

_ENV_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class _Invalid:
    """Marker for a value that failed to bind; its problem is already recorded."""

    def __repr__(self) -> str:
        return "<invalid>"


INVALID: Any = _Invalid()


def setting(
    default: Any = dataclasses.MISSING,
    *,
    help: str = "",
    key: str | None = None,
    parse: Callable[[Any], Any] | None = None,
    expected: str | None = None,
    schema: dict[str, Any] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    default_factory: Callable[[], Any] | None = None,
    binder: Callable[[yaml.Node, BindContext, str], Any] | None = None,
) -> Any:
    """Declare a dataclass field that YAML binds to.

    `key` is the YAML key when it differs from the field name (`from` is a Python keyword);
    `parse` converts the plain YAML value and raises ValueError with a message that says what is
    expected; `schema` is that field's JSON Schema when `parse` makes the type alone too loose;
    `binder` takes over binding of the field's node (any kind) for syntaxes that a type cannot
    describe, reports its own problems through the context and returns INVALID on failure.
    """
    metadata = {
        "help": help,
        "key": key,
        "parse": parse,
        "expected": expected,
        "schema": schema,
        "minimum": minimum,
        "maximum": maximum,
        "binder": binder,
    }
    if default_factory is not None:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class BindContext:
    """State of one binding pass: where the document came from and the problems found so far."""

    file: str
    interpolate_env: bool = False
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    max_nodes: int = DEFAULT_MAX_NODES
    problems: list[Problem] = field(default_factory=list)
    nodes_seen: int = 0
    expansion_reported: bool = False

    def report(self, node: yaml.Node | None, message: str) -> None:
        """Record a problem at the start of `node` (or at 1:1 when there is no node)."""
        mark = node.start_mark if node is not None else None
        if mark is None:
            # No node, or one built here (an empty document's mapping) without a position.
            self.problems.append(Problem(self.file, 1, 1, message))
            return
        self.problems.append(Problem(self.file, mark.line + 1, mark.column + 1, message))


class _LimitedLoader(yaml.SafeLoader):
    """A SafeLoader that counts alias uses, so a document built from nested aliases is rejected."""

    max_aliases = 1000

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.alias_count = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self.alias_count += 1
            if self.alias_count > self.max_aliases:
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    f"more than {self.max_aliases} aliases; expected a document that repeats "
                    "itself less (write the values out)",
                    event.start_mark,
                )
        node: yaml.Node | None = super().compose_node(parent, index)
        return node


_CONSTRUCTOR = yaml.SafeLoader("")
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"


def read_text(path: Path, display: str, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """Read a UTF-8 YAML file, raising InvalidFileError when it is missing, too big or not text."""
    try:
        size = path.stat().st_size
    except OSError as error:
        raise InvalidFileError(
            [Problem(display, 1, 1, f"cannot read file: {error.strerror}; expected a readable YAML file")]
        ) from error
    if size > max_bytes:
        raise InvalidFileError(
            [Problem(display, 1, 1, f"file is {size} bytes; expected at most {max_bytes} bytes (split it into several files)")]
        )
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise InvalidFileError(
            [Problem(display, 1, 1, f"file is not valid UTF-8 (byte {error.start}); expected UTF-8 text")]
        ) from error
    except OSError as error:
        raise InvalidFileError(
            [Problem(display, 1, 1, f"cannot read file: {error.strerror}; expected a readable YAML file")]
        ) from error


def compose(text: str, display: str) -> yaml.Node | None:
    """Parse YAML text into a node tree with positions; None for an empty document."""
    loader = _LimitedLoader(text)
    try:
        return loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        column = mark.column + 1 if mark else 1
        what = error.problem or "invalid YAML"
        if error.context:
            what = f"{error.context}, {what}"
        raise InvalidFileError([Problem(display, line, column, f"invalid YAML: {what}")]) from error
    except yaml.YAMLError as error:
        raise InvalidFileError([Problem(display, 1, 1, f"invalid YAML: {error}")]) from error
    finally:
        loader.dispose()


def bind(node: yaml.Node | None, target: type[T], context: BindContext, path: str = "") -> T:
    """Bind a node tree to `target`; raise InvalidFileError with every problem found."""
    if node is None:
        node = yaml.MappingNode("tag:yaml.org,2002:map", [])
    value = bind_value(node, target, context, path, None)
    if context.problems:
        raise InvalidFileError(context.problems)
    return value  # type: ignore[no-any-return]


def bind_value(
    node: yaml.Node, annotation: Any, context: BindContext, path: str, meta: Mapping[str, Any] | None
) -> Any:
    """Bind one node to an annotation; on failure record a problem and return INVALID."""
    context.nodes_seen += 1
    if context.nodes_seen > context.max_nodes:
        _report_expansion(context, node)
        return INVALID
    meta = meta or {}
    binder = meta.get("binder")
    if binder is not None:
        return binder(node, context, path)
    parse = meta.get("parse")
    origin, arguments = _shape(annotation)
    # `parse` converts single items; a scalar given for a list or mapping field goes through
    # _bind_sequence (a list of one) or is reported, instead of being parsed as the whole field.
    if parse is not None and isinstance(node, yaml.ScalarNode) and origin not in (tuple, list, dict):
        if node.tag == "tag:yaml.org,2002:null" and type(None) in arguments:
            # An explicit null on an optional field means "not set", as it does for fields without `parse`.
            return None
        return _bind_parsed(node, parse, context, path, meta)

    if origin in (typing.Union, types.UnionType):
        return _bind_union(node, arguments, context, path, meta)
    if origin is Literal:
        return _bind_literal(node, arguments, context, path)
    if origin in (tuple, list):
        return _bind_sequence(node, arguments[0], context, path, meta)
    if origin is dict:
        return _bind_mapping(node, arguments[1], context, path, meta)
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        return _bind_dataclass(node, annotation, context, path)
    if annotation is Any:
        return _scalar(node, context) if isinstance(node, yaml.ScalarNode) else _bind_any(node, context, path)
    return _bind_scalar(node, annotation, context, path, meta)


def _bind_any(node: yaml.Node, context: BindContext, path: str) -> Any:
    if isinstance(node, yaml.SequenceNode):
        return [bind_value(child, Any, context, f"{path}[{index}]", None) for index, child in enumerate(node.value)]
    return {key.value: bind_value(value, Any, context, _join(path, key.value), None) for key, value in _pairs(node, context, path)}  # type: ignore[arg-type]


def _describe(path: str) -> str:
    return f"'{path}'" if path else "the document"


def _bind_parsed(
    node: yaml.ScalarNode, parse: Callable[[Any], Any], context: BindContext, path: str, meta: Mapping[str, Any]
) -> Any:
    raw = _scalar(node, context)
    if raw is INVALID:
        return INVALID
    try:
        return parse(raw)
    except ValueError as error:
        context.report(node, f"invalid value {_show(raw)} for {_describe(path)}; {error}")
        return INVALID


def _bind_union(
    node: yaml.Node, arguments: tuple[Any, ...], context: BindContext, path: str, meta: Mapping[str, Any]
) -> Any:
    options = [argument for argument in arguments if argument is not type(None)]
    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null" and len(options) < len(arguments):
        return None
    if len(options) == 1:
        return bind_value(node, options[0], context, path, meta)
    # Try each member on a scratch context and keep the first that binds cleanly.
    for option in options:
        scratch = BindContext(context.file, context.interpolate_env, context.environ, context.max_nodes)
        scratch.nodes_seen = context.nodes_seen
        value = bind_value(node, option, scratch, path, meta)
        if not scratch.problems:
            context.nodes_seen = scratch.nodes_seen
            return value
    return bind_value(node, options[-1], context, path, meta)


def _bind_literal(node: yaml.Node, choices: tuple[Any, ...], context: BindContext, path: str) -> Any:
    raw = _scalar(node, context) if isinstance(node, yaml.ScalarNode) else INVALID
    if raw in choices and raw is not INVALID:
        return raw
    shown = _show(raw) if raw is not INVALID else f"a {_node_kind(node)}"
    listed = ", ".join(str(choice) for choice in choices)
    hint = _closest(str(raw), [str(choice) for choice in choices]) if isinstance(raw, str) else None
    suffix = f" (did you mean '{hint}'?)" if hint else ""
    context.report(node, f"invalid value {shown} for {_describe(path)}; expected one of: {listed}{suffix}")
    return INVALID


def _bind_sequence(
    node: yaml.Node, item: Any, context: BindContext, path: str, meta: Mapping[str, Any]
) -> tuple[Any, ...] | Any:
    if not isinstance(node, yaml.SequenceNode):
        if isinstance(node, yaml.MappingNode) or (
            isinstance(node, yaml.ScalarNode) and node.tag != "tag:yaml.org,2002:null"
        ):
            # A single value where a list is expected is accepted as a list of one (as the schema says).
            value = bind_value(node, item, context, f"{path}[0]", meta)
            return INVALID if value is INVALID else (value,)
        context.report(node, f"invalid value for {_describe(path)}: a {_node_kind(node)}; expected a list")
        return INVALID
    values = []
    for index, child in enumerate(node.value):
        values.append(bind_value(child, item, context, f"{path}[{index}]", meta))
    if any(value is INVALID for value in values):
        return INVALID
    return tuple(values)


def _bind_mapping(
    node: yaml.Node, item: Any, context: BindContext, path: str, meta: Mapping[str, Any]
) -> dict[str, Any] | Any:
    if not isinstance(node, yaml.MappingNode):
        context.report(node, f"invalid value for {_describe(path)}: a {_node_kind(node)}; expected a mapping")
        return INVALID
    result: dict[str, Any] = {}
    for key_node, value_node in _pairs(node, context, path):
        key = key_node.value
        result[key] = bind_value(value_node, item, context, _join(path, key), meta)
    if any(value is INVALID for value in result.values()):
        return INVALID
    return result


def _bind_dataclass(node: yaml.Node, cls: type[Any], context: BindContext, path: str) -> Any:
    scalar_field = getattr(cls, "__scalar_field__", None)
    shorthand = isinstance(node, yaml.ScalarNode) and node.tag != "tag:yaml.org,2002:null"
    if scalar_field and isinstance(node, yaml.SequenceNode):
        # A list is shorthand too when the scalar field is itself a list, e.g. selector alternatives.
        shorthand = typing.get_origin(_type_hints(cls).get(scalar_field)) in (tuple, list)
    if scalar_field and shorthand:
        node = yaml.MappingNode(
            "tag:yaml.org,2002:map",
            [(yaml.ScalarNode("tag:yaml.org,2002:str", scalar_field, node.start_mark, node.end_mark), node)],
            node.start_mark,
            node.end_mark,
        )
    if isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null":
        node = yaml.MappingNode("tag:yaml.org,2002:map", [], node.start_mark, node.end_mark)
    if not isinstance(node, yaml.MappingNode):
        context.report(node, f"invalid value for {_describe(path)}: a {_node_kind(node)}; expected a mapping")
        return INVALID

    hints = _type_hints(cls)
    fields = _init_fields(cls)
    given: dict[str, yaml.Node] = {}
    for key_node, value_node in _pairs(node, context, path):
        key = key_node.value
        if key not in fields:
            hint = _closest(key, list(fields))
            suffix = f" (did you mean '{hint}'?)" if hint else ""
            where = f" in {_describe(path)}" if path else ""
            context.report(
                key_node, f"unknown key '{key}'{where}; expected one of: {', '.join(fields)}{suffix}"
            )
            continue
        given[key] = value_node

    values: dict[str, Any] = {}
    failed = False
    for key, spec in fields.items():
        if key not in given:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                expected = spec.metadata.get("help") or spec.metadata.get("expected") or "a value"
                where = f" in {_describe(path)}" if path else ""
                context.report(node, f"missing key '{key}'{where}; expected {expected}")
                failed = True
            continue
        meta = spec.metadata
        where_key = _join(path, key)
        value = bind_value(given[key], hints[spec.name], context, where_key, meta)
        if value is INVALID:
            failed = True
            continue
        if ("minimum" in meta or "maximum" in meta) and not _within_bounds(given[key], value, meta, context, where_key):
            failed = True
            continue
        values[spec.name] = value
    if failed:
        return INVALID
    try:
        return cls(**values)
    except ValueError as error:
        context.report(node, f"invalid {_describe(path)}: {error}")
        return INVALID


_SHAPES: dict[Any, tuple[Any, tuple[Any, ...]]] = {}


def _shape(annotation: Any) -> tuple[Any, tuple[Any, ...]]:
    """typing.get_origin and get_args of an annotation, cached: binding asks for them on every node."""
    try:
        return _SHAPES[annotation]
    except KeyError:
        shape = _SHAPES[annotation] = (typing.get_origin(annotation), typing.get_args(annotation))
        return shape
    except TypeError:
        return typing.get_origin(annotation), typing.get_args(annotation)


_HINTS: dict[type[Any], dict[str, Any]] = {}
_FIELDS: dict[type[Any], dict[str, dataclasses.Field[Any]]] = {}


def _type_hints(cls: type[Any]) -> dict[str, Any]:
    """The evaluated annotations of a dataclass, cached: evaluating them is the slowest part of binding."""
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _init_fields(cls: type[Any]) -> dict[str, dataclasses.Field[Any]]:
    """A dataclass's init fields by YAML key, cached."""
    fields = _FIELDS.get(cls)
    if fields is None:
        fields = _FIELDS[cls] = {(f.metadata.get("key") or f.name): f for f in dataclasses.fields(cls) if f.init}
    return fields


def _within_bounds(
    node: yaml.Node, value: Any, meta: Mapping[str, Any], context: BindContext, path: str
) -> bool:
    minimum = meta.get("minimum")
    maximum = meta.get("maximum")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return True
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        expected = "a number in range"
        if minimum is not None and maximum is not None:
            expected = f"a number from {_number(minimum)} to {_number(maximum)}"
        elif minimum is not None:
            expected = f"a number of at least {_number(minimum)}"
        elif maximum is not None:
            expected = f"a number of at most {_number(maximum)}"
        context.report(node, f"invalid value {_show(value)} for '{path}'; expected {expected}")
        return False
    return True


def _bind_scalar(
    node: yaml.Node, annotation: Any, context: BindContext, path: str, meta: Mapping[str, Any]
) -> Any:
    expected = meta.get("expected") or _TYPE_WORDS.get(annotation, getattr(annotation, "__name__", "a value"))
    if not isinstance(node, yaml.ScalarNode):
        context.report(node, f"invalid value for {_describe(path)}: a {_node_kind(node)}; expected {expected}")
        return INVALID
    raw = _scalar(node, context)
    if raw is INVALID:
        return INVALID
    if annotation is float and isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw)
    if annotation is str and isinstance(raw, (int, float)) and not isinstance(raw, bool) and not node.style:
        # Bare numbers are fine where text is expected (a port-like id, a version).
        return node.value
    if annotation in (str, int, float, bool) and type(raw) is annotation:
        return raw
    if annotation is not Any and isinstance(annotation, type) and isinstance(raw, annotation) and annotation not in (
        str,
        int,
        float,
        bool,
    ):
        return raw
    context.report(node, f"invalid value {_show(raw)} for {_describe(path)}; expected {expected}")
    return INVALID


_TYPE_WORDS: dict[Any, str] = {
    str: "text",
    int: "an integer",
    float: "a number",
    bool: "true or false",
}


def _pairs(node: yaml.MappingNode, context: BindContext, path: str) -> list[tuple[yaml.ScalarNode, yaml.Node]]:
    """Return the key/value node pairs of a mapping, reporting non-text and duplicate keys."""
    seen: set[str] = set()
    pairs = []
    for key_node, value_node in _flatten_merges(node, context):
        if not isinstance(key_node, yaml.ScalarNode):
            context.report(key_node, f"invalid key in {_describe(path)}; expected a text key")
            continue
        # A key tagged as text is its own value, so _scalar is skipped unless ${VAR} interpolation may change it.
        plain = key_node.tag == _STR_TAG and not (context.interpolate_env and "$" in key_node.value)
        if not plain and not isinstance(_scalar(key_node, context), (str, int)):
            context.report(key_node, f"invalid key in {_describe(path)}; expected a text key")
            continue
        key = str(key_node.value)
        if key in seen:
            context.report(key_node, f"duplicate key '{key}' in {_describe(path)}; expected each key once")
            continue
        seen.add(key)
        pairs.append((key_node, value_node))
    return pairs


def _report_expansion(context: BindContext, node: yaml.Node) -> None:
    if not context.expansion_reported:
        context.expansion_reported = True
        context.report(
            node,
            f"document expands to more than {context.max_nodes} values through aliases; "
            "expected a document that repeats itself less",
        )


def _flatten_merges(node: yaml.MappingNode, context: BindContext) -> list[tuple[yaml.Node, yaml.Node]]:
    """Expand YAML merge keys (`<<: *defaults`) so that explicit keys win over merged ones."""
    if not any(key_node.tag == _MERGE_TAG for key_node, _ in node.value):
        return list(node.value)
    merged: list[tuple[yaml.Node, yaml.Node]] = []
    explicit: list[tuple[yaml.Node, yaml.Node]] = []
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE_TAG:
            sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            for source in sources:
                if isinstance(source, yaml.MappingNode):
                    # Merged keys count as values: nested merges of aliases multiply like any alias.
                    context.nodes_seen += len(source.value)
                    if context.nodes_seen > context.max_nodes:
                        _report_expansion(context, source)
                        continue
                    merged.extend(_flatten_merges(source, context))
                else:
                    context.report(source, "invalid merge key value; expected a mapping or a list of mappings")
        else:
            explicit.append((key_node, value_node))
    explicit_keys = {key.value for key, _ in explicit if isinstance(key, yaml.ScalarNode)}
    kept = [(key, value) for key, value in merged if key.value not in explicit_keys]
    unique: dict[Any, tuple[yaml.Node, yaml.Node]] = {}
    for key, value in kept:
        unique.setdefault(key.value, (key, value))
    return list(unique.values()) + explicit


def _scalar(node: yaml.ScalarNode, context: BindContext) -> Any:
    """Construct a scalar's Python value, interpolating ${VAR} in text when enabled."""
    try:
        if node.tag == _STR_TAG:
            # Text is the node's own value; skipping the constructor is the common, fast case.
            value = node.value
        else:
            value = _CONSTRUCTOR.construct_object(node, deep=True)
            # The shared constructor remembers every node it built; forget it so nodes do not pile up.
            _CONSTRUCTOR.constructed_objects.pop(node, None)
    except yaml.constructor.ConstructorError as error:
        context.report(node, f"invalid value '{node.value}': {error.problem}")
        return INVALID
    except ValueError as error:
        # An impossible timestamp such as 2026-02-30 fails in the date constructor.
        context.report(
            node, f"invalid value '{node.value}': {error}; expected a valid date, or quotes to keep the value as text"
        )
        return INVALID
    if context.interpolate_env and isinstance(value, str) and "$" in value:
        return _interpolate(node, value, context)
    return value


def _interpolate(node: yaml.Node, value: str, context: BindContext) -> Any:
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        if name in context.environ and context.environ[name] != "":
            return context.environ[name]
        if default is not None:
            return default
        missing.append(name)
        return ""

    result = _ENV_REFERENCE.sub(replace, value)
    if missing:
        context.report(
            node,
            f"environment variable {missing[0]} is not set; expected it to be set, "
            f"or a default written as ${{{missing[0]}:-value}}",
        )
        return INVALID
    return result


def _node_kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "mapping"
    if isinstance(node, yaml.SequenceNode):
        return "list"
    if node.tag == "tag:yaml.org,2002:null":
        return "empty value"
    return "single value"


def _show(value: Any) -> str:
    if isinstance(value, str):
        shown = value if len(value) <= 80 else value[:77] + "..."
        return f"'{shown}'"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _closest(word: str, choices: list[str]) -> str | None:
    matches = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return matches[0] if matches else None


def json_schema(target: Any, definitions: dict[str, Any] | None = None) -> dict[str, Any]:
    """Describe what `bind` accepts for `target` as JSON Schema (draft 2020-12)."""
    top = definitions is None
    definitions = {} if definitions is None else definitions
    schema = _schema_for(target, definitions, {})
    if top and definitions:
        schema = {**schema, "$defs": definitions}
    return schema


def _schema_for(annotation: Any, definitions: dict[str, Any], meta: Mapping[str, Any]) -> dict[str, Any]:
    if meta.get("schema") is not None:
        return dict(meta["schema"])
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [_schema_for(argument, definitions, meta) for argument in arguments]
        return {"anyOf": options}
    if annotation is type(None):
        return {"type": "null"}
    if origin is Literal:
        return {"enum": list(arguments)}
    if origin in (tuple, list):
        item = _schema_for(arguments[0], definitions, meta)
        return {"anyOf": [{"type": "array", "items": item}, item]}
    if origin is dict:
        return {"type": "object", "additionalProperties": _schema_for(arguments[1], definitions, meta)}
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        return _schema_for_dataclass(annotation, definitions)
    schema = {str: {"type": "string"}, int: {"type": "integer"}, float: {"type": "number"}, bool: {"type": "boolean"}}
    result = dict(schema.get(annotation, {}))
    if meta.get("minimum") is not None:
        result["minimum"] = meta["minimum"]
    if meta.get("maximum") is not None:
        result["maximum"] = meta["maximum"]
    return result


def _schema_for_dataclass(cls: type[Any], definitions: dict[str, Any]) -> dict[str, Any]:
    name = cls.__name__
    reference = {"$ref": f"#/$defs/{name}"}
    if name in definitions:
        return reference
    definitions[name] = {}
    hints = typing.get_type_hints(cls)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for spec in dataclasses.fields(cls):
        if not spec.init:
            continue
        key = spec.metadata.get("key") or spec.name
        prop = _schema_for(hints[spec.name], definitions, spec.metadata)
        if spec.metadata.get("help"):
            prop = {**prop, "description": spec.metadata["help"]}
        properties[key] = prop
        if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            required.append(key)
    body: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if cls.__doc__:
        body["description"] = cls.__doc__.strip().splitlines()[0]
    if required:
        body["required"] = required
    scalar_field = getattr(cls, "__scalar_field__", None)
    if scalar_field:
        definitions[name] = {"anyOf": [_scalar_schema(properties[scalar_field]), body]}
    else:
        definitions[name] = body
    return reference


def _scalar_schema(prop: dict[str, Any]) -> dict[str, Any]:
    """The schema of a `__scalar_field__` shorthand: the field's own schema without its description."""
    return {key: value for key, value in prop.items() if key != "description"}


def load_file(
    path: Path,
    target: type[T],
    *,
    display: str | None = None,
    interpolate_env: bool = False,
    environ: Mapping[str, str] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> T:
    """Read, parse and bind one YAML file; raise InvalidFileError listing every problem."""
    shown = display or str(path)
    text = read_text(path, shown, max_bytes)
    node = compose(text, shown)
    context = BindContext(shown, interpolate_env, dict(os.environ) if environ is None else environ)
    return bind(node, target, context)
