"""The JSON Schema of rule files: valid draft 2020-12, accepts every example, rejects broken files."""

from __future__ import annotations

import datetime
import json
import re
import textwrap
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

from proxy.ruleset.schema import rules_json_schema

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "rules" / "examples").rglob("*.yaml"))


def as_json(text: str) -> Any:
    """Load YAML as an editor's language server reads it: dates stay text."""

    def convert(value: Any) -> Any:
        if isinstance(value, dict):
            return {str(key): convert(item) for key, item in value.items()}
        if isinstance(value, list):
            return [convert(item) for item in value]
        if isinstance(value, (datetime.date, datetime.datetime)):
            return value.isoformat()
        return value

    return convert(yaml.safe_load(text))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = rules_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_file_up_to_date() -> None:
    written = json.loads((ROOT / "rules" / "examples" / "rules.schema.json").read_text(encoding="utf-8"))
    assert written == rules_json_schema()


def test_schema_examples_exist() -> None:
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_schema_accepts_example(validator: jsonschema.Draft202012Validator, path: Path) -> None:
    errors = [error.message for error in validator.iter_errors(as_json(path.read_text(encoding="utf-8")))]
    assert errors == []


TIP = """
guides:
  - id: t
    kind: tip
    title: T
    target: '#a'
    body: B
"""

BROKEN = [
    pytest.param(TIP.replace("title:", "titel:"), id="unknown-key"),
    pytest.param(TIP.replace("guides:", "guide:"), id="unknown-top-key"),
    pytest.param(TIP.replace("kind: tip", "kind: tipp"), id="kind-typo"),
    pytest.param(TIP + "    steps: [{body: x}]\n", id="foreign-key-for-kind"),
    pytest.param(TIP.replace("    target: '#a'\n", ""), id="tip-without-target"),
    pytest.param("guides:\n  - {id: w, kind: walkthrough, title: W}\n", id="walkthrough-without-steps"),
    pytest.param("guides:\n  - {id: w, kind: walkthrough, title: W, steps: [{body: x, advance: clik}]}\n", id="advance-typo"),
    pytest.param(TIP + "    frequency: {max_times: 0}\n", id="max-times-zero"),
    pytest.param(TIP + "    frequency: sometimes\n", id="frequency-typo"),
    pytest.param(TIP + "    pages: po/new\n", id="relative-page"),
    pytest.param(TIP.replace("id: t", "id: 'po tour'"), id="invalid-id"),
    pytest.param(TIP + "    audience: {alll: [a]}\n", id="audience-operator"),
    pytest.param("workflows:\n  - {id: w, title: W}\n", id="workflow-without-steps"),
    pytest.param("workflows:\n  - {id: w, title: W, steps: [{name: s, path: /a, success: {status: 6xx}}]}\n", id="status"),
    pytest.param("workflows:\n  - {id: w, title: W, window: soon, steps: [{name: s, path: /a}]}\n", id="window"),
    pytest.param("case_sensitive: maybe\n", id="case-sensitive"),
]


@pytest.mark.parametrize("text", BROKEN)
def test_schema_rejects_broken(validator: jsonschema.Draft202012Validator, text: str) -> None:
    errors = list(validator.iter_errors(as_json(textwrap.dedent(text))))
    assert errors != []


def _keys(schema: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(schema, dict):
        for name, value in schema.get("properties", {}).items():
            found.add(name)
            found |= _keys(value)
        for key, value in schema.items():
            if key != "properties":
                found |= _keys(value)
    elif isinstance(schema, list):
        for item in schema:
            found |= _keys(item)
    return found


def test_schema_keys_documented() -> None:
    reference = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`([a-z_]+)`", reference))
    assert sorted(_keys(rules_json_schema()) - documented) == []
