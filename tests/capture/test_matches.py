"""Tests of the capture's match cache: the same matches as the rules give, bounded, and per compiled rule set."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from proxy.capture.matches import MAX_AUDIENCES, MatchCache, for_audience
from proxy.ruleset import RuleSet, load_rule_paths
from proxy.ruleset.matcher import AppRules

RULES = """
app: erp
workflows:
  - id: raise-po
    title: Raise
    audience: [clerk]
    steps:
      - {name: open, path: /po/new, methods: GET}
      - {name: view, path: '/po/{id:int}', methods: GET}
features:
  - {id: export, title: Export, requests: [{path: '/po/export', query: {format: csv}}]}
  - {id: any-po, title: Any PO page, requests: ['re:^/po/.*$']}
"""


@pytest.fixture
def rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppRules:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "erp.yaml").write_text(textwrap.dedent(RULES).lstrip(), encoding="utf-8")
    ruleset: RuleSet = load_rule_paths(["erp.yaml"])
    app = ruleset.app("erp")
    assert app is not None
    return app


def names(match: object) -> list[str]:
    steps = [f"{step.workflow.id}/{step.step.name}" for step in getattr(match, "steps")]
    return steps + [feature.feature.id for feature in getattr(match, "features")]


@pytest.mark.parametrize(
    ("path", "method", "query", "expected"),
    [
        pytest.param("/po/new", "GET", "", ["raise-po/open", "any-po"], id="step-and-feature"),
        pytest.param("/po/7", "GET", "", ["raise-po/view", "any-po"], id="path-parameter"),
        pytest.param("/po/export", "GET", "format=csv", ["export", "any-po"], id="query"),
        pytest.param("/po/export", "GET", "format=pdf", ["any-po"], id="query-miss"),
    ],
)
def test_match_cache_same_as_rules(rules: AppRules, path: str, method: str, query: str, expected: list[str]) -> None:
    cache = MatchCache(rules)
    parsed = dict(pair.split("=", 1) for pair in query.split("&") if pair)
    shape = (path, method, query)
    direct = rules.match_request(path, method=method, query=parsed, roles=None)
    cache.remember(shape, direct)
    assert names(direct) == expected
    assert cache.candidates(shape) is direct
    assert names(cache.for_audience(shape, direct, frozenset({"clerk"}))) == names(
        rules.match_request(path, method=method, query=parsed, roles=["clerk"])
    )
    assert names(cache.for_audience(shape, direct, frozenset())) == names(
        rules.match_request(path, method=method, query=parsed, roles=[])
    )


def test_match_cache_unknown_shape(rules: AppRules) -> None:
    assert MatchCache(rules).candidates(("/po/new", "GET", "")) is None


def test_match_cache_bounded(rules: AppRules) -> None:
    cache = MatchCache(rules, max_shapes=2)
    match = rules.match_request("/po/new", method="GET", query={}, roles=None)
    for number in range(4):
        cache.remember((f"/po/{number}", "GET", ""), match)
    assert len(cache) == 2
    assert cache.candidates(("/po/0", "GET", "")) is None
    assert cache.candidates(("/po/3", "GET", "")) is match


def test_match_cache_audiences_bounded(rules: AppRules) -> None:
    cache = MatchCache(rules)
    shape = ("/po/new", "GET", "")
    match = rules.match_request("/po/new", method="GET", query={}, roles=None)
    cache.remember(shape, match)
    for number in range(MAX_AUDIENCES + 5):
        assert names(cache.for_audience(shape, match, frozenset({f"role{number}"}))) == ["any-po"]
    assert names(cache.for_audience(shape, match, frozenset({"clerk"}))) == ["raise-po/open", "any-po"]


def test_for_audience_keeps_whole_match(rules: AppRules) -> None:
    match = rules.match_request("/po/new", method="GET", query={}, roles=None)
    assert for_audience(match, frozenset({"clerk"})) is match
    assert names(for_audience(match, frozenset({"buyer"}))) == ["any-po"]
