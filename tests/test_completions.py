"""Tests of Completions: which events tick a workflow off, per app and visitor, and the bound on visitors remembered."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.completions import Completions
from proxy.events import Event
from proxy.ruleset.watcher import RuleWatcher

RULES = """\
workflows:
  - id: raise-po
    title: Raise
    steps:
      - {name: open, path: /po/new}
      - {name: submit, path: /po/new, methods: POST}
  - id: book
    title: Book
    steps:
      - {name: post, path: /invoices/new}
"""


@pytest.fixture
def rules(tmp_path: Path) -> RuleWatcher:
    (tmp_path / "erp.yaml").write_text(RULES, encoding="utf-8")
    watcher = RuleWatcher({"erp": (tmp_path / "erp.yaml",)})
    watcher.load_initial()
    return watcher


def step(visitor: str, name: str, step_name: str, outcome: str = "success", kind: str = "workflow_step") -> Event:
    return Event(time=1.0, app="erp", visitor=visitor, kind=kind, name=name, step=step_name, outcome=outcome)


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        pytest.param([step("v1", "raise-po", "submit")], {"raise-po"}, id="last-step"),
        pytest.param([step("v1", "raise-po", "open")], set(), id="first-step"),
        pytest.param([step("v1", "raise-po", "submit", "failure")], set(), id="failure"),
        pytest.param([step("v1", "raise-po", "submit", kind="feature")], set(), id="feature"),
        pytest.param([step("v1", "unknown", "submit")], set(), id="unknown-workflow"),
        pytest.param([step("v1", "raise-po", "submit"), step("v1", "raise-po", "submit")], {"raise-po"}, id="twice"),
        pytest.param([step("v1", "raise-po", "submit"), step("v1", "book", "post")], {"raise-po", "book"}, id="two-workflows"),
        pytest.param([step("v2", "raise-po", "submit")], set(), id="other-visitor"),
    ],
)
def test_completions_record(rules: RuleWatcher, events: list[Event], expected: set[str]) -> None:
    completions = Completions(rules)
    for event in events:
        completions.record(event)
    assert completions.completed("erp", "v1") == frozenset(expected)


def test_completions_bounded(rules: RuleWatcher) -> None:
    completions = Completions(rules, max_visitors=2)
    for visitor in ("v1", "v2", "v1", "v3"):
        completions.record(step(visitor, "raise-po", "submit"))
    assert completions.completed("erp", "v1") == frozenset({"raise-po"})
    assert completions.completed("erp", "v2") == frozenset()
    assert completions.completed("erp", "v3") == frozenset({"raise-po"})
