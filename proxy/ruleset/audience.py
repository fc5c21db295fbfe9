"""Audiences of rules: role expressions (any of, all, not, anyone) and user attribute conditions."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Union

import yaml

from proxy.yamlbind import INVALID, BindContext

ANYONE_TOKEN = "*"


@dataclass(frozen=True)
class Anyone:
    """Every user, with or without roles (`*`)."""

    def matches(self, roles: frozenset[str]) -> bool:
        return True

    def describe(self) -> str:
        return "*"

    def role_names(self) -> Iterator[Role]:
        return iter(())


@dataclass(frozen=True)
class Role:
    """One role name; the position is where it was written, for error messages."""

    name: str
    line: int = field(default=0, compare=False)
    column: int = field(default=0, compare=False)

    def matches(self, roles: frozenset[str]) -> bool:
        return self.name in roles

    def describe(self) -> str:
        return self.name

    def role_names(self) -> Iterator[Role]:
        yield self


@dataclass(frozen=True)
class AnyOf:
    """At least one of the expressions holds (a plain list of roles)."""

    items: tuple[RoleExpression, ...]

    def matches(self, roles: frozenset[str]) -> bool:
        return any(item.matches(roles) for item in self.items)

    def describe(self) -> str:
        return "[" + ", ".join(item.describe() for item in self.items) + "]"

    def role_names(self) -> Iterator[Role]:
        for item in self.items:
            yield from item.role_names()


@dataclass(frozen=True)
class AllOf:
    """Every one of the expressions holds (`all: [...]`)."""

    items: tuple[RoleExpression, ...]

    def matches(self, roles: frozenset[str]) -> bool:
        return all(item.matches(roles) for item in self.items)

    def describe(self) -> str:
        return "all: [" + ", ".join(item.describe() for item in self.items) + "]"

    def role_names(self) -> Iterator[Role]:
        for item in self.items:
            yield from item.role_names()


@dataclass(frozen=True)
class Not:
    """The expression does not hold (`not: ...`)."""

    item: RoleExpression

    def matches(self, roles: frozenset[str]) -> bool:
        return not self.item.matches(roles)

    def describe(self) -> str:
        return f"not: {self.item.describe()}"

    def role_names(self) -> Iterator[Role]:
        return self.item.role_names()


RoleExpression = Union[Anyone, Role, AnyOf, AllOf, Not]


@dataclass(frozen=True)
class Audience:
    """Who a rule is for: a role expression and optional user attribute conditions."""

    roles: RoleExpression = field(default_factory=Anyone)
    attributes: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def matches(self, roles: frozenset[str], attributes: Mapping[str, str] | None = None) -> bool:
        """Whether a user with these roles and attributes belongs to the audience."""
        if not self.roles.matches(roles):
            return False
        for name, allowed in self.attributes:
            value = attributes.get(name) if attributes is not None else None
            if value is None or value not in allowed:
                return False
        return True

    def explain(self, roles: frozenset[str], attributes: Mapping[str, str] | None = None) -> str | None:
        """Say why a user is outside the audience, or return None when the user belongs to it."""
        if not self.roles.matches(roles):
            return explain_roles(self.roles, roles)
        for name, allowed in self.attributes:
            value = attributes.get(name) if attributes is not None else None
            listed = ", ".join(allowed)
            if value is None:
                return f"attribute {name} is not set; audience needs one of [{listed}]"
            if value not in allowed:
                return f"attribute {name} is '{value}', not one of [{listed}]"
        return None

    def describe(self) -> str:
        text = self.roles.describe()
        for name, allowed in self.attributes:
            text += f", {name} in [{', '.join(allowed)}]"
        return text


def explain_roles(expression: RoleExpression, roles: frozenset[str]) -> str:
    """Describe why `roles` fail `expression`, in the words an admin uses."""
    shown = ", ".join(sorted(roles))
    if not roles:
        return f"no roles; audience is {expression.describe()}"
    plain = isinstance(expression, Role) or (
        isinstance(expression, AnyOf) and all(isinstance(item, Role) for item in expression.items)
    )
    if plain:
        audience = expression.describe() if isinstance(expression, AnyOf) else f"[{expression.describe()}]"
        noun = "role" if len(roles) == 1 else "roles"
        return f"{noun} {shown} not in audience {audience}"
    return f"roles [{shown}] do not satisfy audience {expression.describe()}"


_OPERATORS = ("any", "all", "not")
_AUDIENCE_KEYS = ("roles", "attributes")

ROLE_EXPRESSION_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "description": "a role name, or '*' for anyone"},
        {"type": "array", "items": {"$ref": "#/$defs/RoleExpression"}, "description": "any of these"},
        {
            "type": "object",
            "properties": {
                "any": {"type": "array", "items": {"$ref": "#/$defs/RoleExpression"}},
                "all": {"type": "array", "items": {"$ref": "#/$defs/RoleExpression"}},
                "not": {"$ref": "#/$defs/RoleExpression"},
            },
            "additionalProperties": False,
            "minProperties": 1,
            "maxProperties": 1,
        },
    ]
}

AUDIENCE_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"$ref": "#/$defs/RoleExpression"},
        {
            "type": "object",
            "properties": {
                "roles": {"$ref": "#/$defs/RoleExpression"},
                "attributes": {
                    "type": "object",
                    "additionalProperties": {
                        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]
                    },
                },
            },
            "additionalProperties": False,
        },
    ],
    "description": "who sees or is tracked: a role, a list of roles (any of), all/not/any, '*', "
    "or roles plus user attributes",
}


def bind_audience(node: yaml.Node, context: BindContext, path: str) -> Audience | Any:
    """Bind an audience: a role expression, or a mapping of `roles` and `attributes`."""
    if isinstance(node, yaml.MappingNode):
        keys = [key.value for key, _ in node.value if isinstance(key, yaml.ScalarNode)]
        if any(key in _AUDIENCE_KEYS for key in keys):
            return _bind_audience_mapping(node, context, path)
    expression = bind_role_expression(node, context, path)
    if expression is INVALID:
        return INVALID
    return Audience(expression)


def _bind_audience_mapping(node: yaml.MappingNode, context: BindContext, path: str) -> Audience | Any:
    roles: RoleExpression | Any = Anyone()
    attributes: list[tuple[str, tuple[str, ...]]] = []
    failed = False
    for key_node, value_node in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        if key == "roles":
            roles = bind_role_expression(value_node, context, f"{path}.roles")
            failed = failed or roles is INVALID
        elif key == "attributes":
            bound = _bind_attributes(value_node, context, f"{path}.attributes")
            if bound is None:
                failed = True
            else:
                attributes.extend(bound)
        else:
            _report_key(key_node, context, path, list(_AUDIENCE_KEYS))
            failed = True
    if failed:
        return INVALID
    return Audience(roles, tuple(attributes))


def _bind_attributes(
    node: yaml.Node, context: BindContext, path: str
) -> list[tuple[str, tuple[str, ...]]] | None:
    if not isinstance(node, yaml.MappingNode):
        context.report(node, f"invalid value for '{path}'; expected a mapping of attribute name to allowed values")
        return None
    result = []
    for key_node, value_node in node.value:
        name = str(key_node.value)
        values: list[str] = []
        children = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        for child in children:
            if not _count(child, context):
                return None
            if not isinstance(child, yaml.ScalarNode) or child.tag == "tag:yaml.org,2002:null":
                context.report(child, f"invalid value for '{path}.{name}'; expected a text value or a list of them")
                return None
            values.append(str(child.value))
        if not values:
            context.report(value_node, f"empty list for '{path}.{name}'; expected at least one allowed value")
            return None
        result.append((name, tuple(values)))
    return result


def bind_role_expression(node: yaml.Node, context: BindContext, path: str) -> RoleExpression | Any:
    """Bind a role expression: a role, '*', a list (any of), or one of any/all/not."""
    if not _count(node, context):
        return INVALID
    if isinstance(node, yaml.ScalarNode):
        if node.tag == "tag:yaml.org,2002:null" or str(node.value).strip() == "":
            context.report(node, f"empty role in '{path}'; expected a role name, a list of roles or '*'")
            return INVALID
        name = str(node.value).strip()
        if name == ANYONE_TOKEN:
            return Anyone()
        return Role(name, node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.SequenceNode):
        items = _bind_items(node, context, path)
        return INVALID if items is None else AnyOf(items)
    if isinstance(node, yaml.MappingNode):
        return _bind_operator(node, context, path)
    context.report(node, f"invalid value for '{path}'; expected a role name, a list of roles or any/all/not")
    return INVALID


def _bind_items(node: yaml.Node, context: BindContext, path: str) -> tuple[RoleExpression, ...] | None:
    if not isinstance(node, yaml.SequenceNode):
        children = [node]
    else:
        children = list(node.value)
    if not children:
        context.report(node, f"empty list in '{path}'; expected at least one role")
        return None
    items = [bind_role_expression(child, context, f"{path}[{index}]") for index, child in enumerate(children)]
    if any(item is INVALID for item in items):
        return None
    return tuple(items)


def _bind_operator(node: yaml.MappingNode, context: BindContext, path: str) -> RoleExpression | Any:
    if len(node.value) != 1:
        context.report(node, f"invalid role expression '{path}' with {len(node.value)} keys; expected exactly one of: any, all, not")
        return INVALID
    key_node, value_node = node.value[0]
    key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
    if key in ("any", "all"):
        items = _bind_items(value_node, context, f"{path}.{key}")
        if items is None:
            return INVALID
        return AnyOf(items) if key == "any" else AllOf(items)
    if key == "not":
        item = bind_role_expression(value_node, context, f"{path}.not")
        return INVALID if item is INVALID else Not(item)
    _report_key(key_node, context, path, list(_OPERATORS) + list(_AUDIENCE_KEYS))
    return INVALID


def _count(node: yaml.Node, context: BindContext) -> bool:
    """Count a visited node against the document's limit, which stops alias bombs here too."""
    context.nodes_seen += 1
    if context.nodes_seen <= context.max_nodes:
        return True
    if not context.expansion_reported:
        context.expansion_reported = True
        context.report(
            node,
            f"document expands to more than {context.max_nodes} values through aliases; "
            "expected a document that repeats itself less",
        )
    return False


def _report_key(key_node: yaml.Node, context: BindContext, path: str, choices: list[str]) -> None:
    key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
    matches = difflib.get_close_matches(key, choices, n=1, cutoff=0.6)
    suffix = f" (did you mean '{matches[0]}'?)" if matches else ""
    context.report(key_node, f"unknown key '{key}' in '{path}'; expected one of: {', '.join(choices)}{suffix}")
