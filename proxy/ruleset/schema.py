"""JSON Schema (draft 2020-12) of rule files, for editors that autocomplete and validate YAML."""

from __future__ import annotations

from typing import Any

from proxy.ruleset.audience import ROLE_EXPRESSION_SCHEMA
from proxy.ruleset.checks import KIND_KEYS, KIND_REQUIRED
from proxy.ruleset.model import RuleFile
from proxy.yamlbind import json_schema


def rules_json_schema() -> dict[str, Any]:
    """Return the JSON Schema of a rule file.

    It describes keys, types and allowed values, and which keys each guide kind takes and needs.
    Checks across files (duplicate ids, references, declared roles) are made only by
    `guidegate check`.
    """
    schema = json_schema(RuleFile)
    definitions = schema["$defs"]
    definitions["RoleExpression"] = ROLE_EXPRESSION_SCHEMA
    definitions["Guide"] = _with_kind_rules(definitions["Guide"])
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Guidegate rule file",
        **schema,
    }


def _with_kind_rules(guide: dict[str, Any]) -> dict[str, Any]:
    """Add if/then rules: each kind needs its keys and takes no key of another kind."""
    specific = sorted({key for keys in KIND_KEYS.values() for key in keys})
    rules = []
    for kind, keys in KIND_KEYS.items():
        foreign = [key for key in specific if key not in keys]
        rules.append(
            {
                "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                "then": {
                    "required": list(KIND_REQUIRED[kind]),
                    "not": {"anyOf": [{"required": [key]} for key in foreign]},
                },
            }
        )
    return {**guide, "allOf": rules}
