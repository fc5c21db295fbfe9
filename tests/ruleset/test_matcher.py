"""The compiled matcher: guides for a page, workflow steps and features for a request, and the index."""

from __future__ import annotations

import random
import textwrap
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from proxy.ruleset import RuleSet, load_rule_paths
from proxy.ruleset.explain import explain
from proxy.ruleset.guides import Guide
from proxy.ruleset.matcher import AppRules
from proxy.ruleset.compiled import CompiledRequest
from proxy.ruleset.patterns import RequestPattern, parse_path_pattern

RULES = """
app: erp
guides:
  - id: tour
    kind: walkthrough
    title: Tour
    audience: [clerk, buyer]
    pages: /po/new
    priority: 5
    steps:
      - {target: '#vendor', body: Vendor}
      - {target: '#save', body: Save, advance: {page: '/po/{id:int}'}}
      - {body: Saved}
      - {body: Approve, advance: {page: '/po/{id:int}/approved'}}
  - id: vendor-tip
    kind: tip
    title: Vendor
    pages: ['/po/new', {path: '/po/{id:int}/edit', methods: GET}]
    target: '#vendor'
    body: Tip
    priority: 10
  - id: news
    kind: announcement
    title: News
    body: Body
    schedule: {from: 2026-03-01, until: 2026-03-31}
  - id: managers
    kind: banner
    title: Managers
    body: Body
    audience: {all: [manager, {not: intern}]}
    pages: '/po/**'
  - id: filtered
    kind: tip
    title: Filtered
    target: '#status'
    body: Body
    pages: {path: /po, query: {status: pending}}
workflows:
  - id: raise-po
    title: Raise
    audience: [clerk]
    steps:
      - {name: open, path: /po/new, methods: GET}
      - {name: submit, path: /po/new, methods: POST, fields: [vendor]}
      - {name: view, path: '/po/{id:int}', methods: GET}
    exclusions:
      - {name: cancel, path: /po/new/cancel}
features:
  - {id: export, title: Export, requests: [{path: '/po/export', query: {format: csv}}]}
  - {id: any-po, title: Any PO page, requests: ['re:^/po/.*$']}
"""

MARCH = datetime(2026, 3, 15, 12, 0, tzinfo=timezone.utc)
APRIL = datetime(2026, 4, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def ruleset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RuleSet:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "erp.yaml").write_text(textwrap.dedent(RULES).lstrip(), encoding="utf-8")
    return load_rule_paths(["erp.yaml"])


PAGES = [
    pytest.param("/po/new", "GET", {}, ["clerk"], MARCH, ["vendor-tip", "tour", "news"], id="priority-order"),
    pytest.param("/po/new", "GET", {}, ["clerk"], APRIL, ["vendor-tip", "tour"], id="schedule-over"),
    pytest.param("/po/new", "GET", {}, [], APRIL, ["vendor-tip"], id="no-roles"),
    pytest.param("/po/7/edit", "GET", {}, ["manager"], APRIL, ["vendor-tip", "managers"], id="param-and-glob"),
    pytest.param("/po/7/edit", "POST", {}, ["manager"], APRIL, ["managers"], id="method"),
    pytest.param("/po/7/edit", "GET", {}, ["manager", "intern"], APRIL, ["vendor-tip"], id="not-expression"),
    pytest.param("/po", "GET", {"status": "pending"}, [], APRIL, ["filtered"], id="query"),
    pytest.param("/po", "GET", {"status": "open"}, [], APRIL, [], id="query-miss"),
    pytest.param("/invoices", "GET", {}, ["clerk"], MARCH, ["news"], id="every-page"),
    pytest.param("/po/12", "GET", {}, ["clerk"], APRIL, ["tour"], id="continuation"),
]


@pytest.mark.parametrize(("path", "method", "query", "roles", "now", "expected"), PAGES)
def test_guides_for_page(
    ruleset: RuleSet, path: str, method: str, query: dict[str, str], roles: list[str], now: datetime, expected: list[str]
) -> None:
    matches = ruleset.guides_for_page("erp", path, method=method, query=query, roles=roles, now=now)
    assert [match.guide.id for match in matches] == expected


def test_guides_steps_here(ruleset: RuleSet) -> None:
    start = ruleset.guides_for_page("erp", "/po/new", roles=["clerk"], now=APRIL)
    tour = [match for match in start if match.guide.id == "tour"][0]
    assert (tour.starts_here, tour.steps_here, tour.advanced_here) == (True, (0, 1), ())
    assert tour.params == {}

    later = ruleset.guides_for_page("erp", "/po/12", roles=["clerk"], now=APRIL)[0]
    assert (later.starts_here, later.steps_here, later.advanced_here) == (False, (2, 3), (1,))
    assert later.params == {"id": 12}

    done = ruleset.guides_for_page("erp", "/po/12/approved", roles=["clerk"], now=APRIL)[0]
    assert (done.starts_here, done.steps_here, done.advanced_here) == (False, (), (3,))


def test_guides_unknown_app(ruleset: RuleSet) -> None:
    assert ruleset.guides_for_page("crm", "/po/new") == ()


REQUESTS = [
    pytest.param("/po/new", "GET", {}, ["clerk"], ["raise-po/open"], ["any-po"], [], id="step"),
    pytest.param("/po/new", "POST", {}, ["clerk"], ["raise-po/submit"], ["any-po"], [], id="step-method"),
    pytest.param("/po/new", "POST", {}, ["manager"], [], ["any-po"], [], id="audience"),
    pytest.param("/po/new", "POST", {}, None, ["raise-po/submit"], ["any-po"], [], id="audience-unchecked"),
    pytest.param("/po", "GET", {}, ["clerk"], [], [], [], id="regex-needs-slash"),
    pytest.param("/po/9", "GET", {}, ["clerk"], ["raise-po/view"], ["any-po"], [], id="step-and-feature"),
    pytest.param("/po/export", "GET", {"format": "csv"}, [], [], ["export", "any-po"], [], id="features-in-order"),
    pytest.param("/po/export", "GET", {"format": "pdf"}, [], [], ["any-po"], [], id="feature-query"),
    pytest.param("/po/new/cancel", "POST", {}, ["clerk"], [], ["any-po"], ["raise-po/cancel"], id="exclusion"),
    pytest.param("/invoices", "GET", {}, ["clerk"], [], [], [], id="nothing"),
]


@pytest.mark.parametrize(("path", "method", "query", "roles", "steps", "features", "exclusions"), REQUESTS)
def test_match_request(
    ruleset: RuleSet,
    path: str,
    method: str,
    query: dict[str, str],
    roles: list[str] | None,
    steps: list[str],
    features: list[str],
    exclusions: list[str],
) -> None:
    result = ruleset.match_request("erp", path, method=method, query=query, roles=roles)
    assert [f"{match.workflow.id}/{match.step.name}" for match in result.steps] == steps
    assert [match.feature.id for match in result.features] == features
    assert [f"{match.workflow.id}/{match.exclusion.name}" for match in result.abandons] == exclusions
    assert bool(result) is bool(steps or features or exclusions)


def test_match_request_params_and_fields(ruleset: RuleSet) -> None:
    view = ruleset.match_request("erp", "/po/31", roles=["clerk"]).steps[0]
    assert view.params == {"id": 31}
    submit = ruleset.match_request("erp", "/po/new", method="POST", roles=["clerk"]).steps[0]
    assert submit.needs_fields
    assert submit.step.accepts_fields({"vendor", "currency"})
    assert not submit.step.accepts_fields({"currency"})


EXPLAIN = [
    pytest.param("guide", "managers", "roles [clerk] do not satisfy audience all: [manager, not: intern]", id="audience"),
    pytest.param("guide", "news", "schedule ended 2026-03-31", id="schedule"),
    pytest.param("guide", "filtered", "path /po/7/edit does not match /po", id="path"),
    pytest.param("step", "raise-po/submit", "path /po/7/edit does not match /po/new", id="step-path"),
    pytest.param("step", "raise-po/view", "path /po/7/edit does not match /po/{id:int}", id="step-param-path"),
    pytest.param("feature", "export", "path /po/7/edit does not match /po/export", id="feature"),
]


@pytest.mark.parametrize(("kind", "name", "reason"), EXPLAIN)
def test_explain_reason(ruleset: RuleSet, kind: str, name: str, reason: str) -> None:
    result = explain(ruleset.apps["erp"], "/po/7/edit", method="GET", roles=["clerk"], now=APRIL)
    reasons: dict[tuple[str, str], str] = {(miss.kind, miss.name): miss.reason for miss in result.misses}
    assert reasons[(kind, name)] == reason


def test_explain_near_misses(ruleset: RuleSet) -> None:
    result = explain(ruleset.apps["erp"], "/po/abc", method="POST", roles=["manager"], now=MARCH)
    near = {(miss.kind, miss.name): miss.reason for miss in result.near_misses}
    assert near == {
        ("step", "raise-po/view"): "path /po/abc: parameter id is not an int",
        ("guide", "tour"): "path /po/abc: parameter id is not an int",
    }
    assert [match.guide.id for match in result.guides] == ["news", "managers"]
    origins = {miss.name: str(miss.origin) for miss in result.misses}
    assert origins["tour"] == "erp.yaml:3:5"
    assert origins["raise-po/view"] == "erp.yaml:45:9"


def test_explain_method_and_audience(ruleset: RuleSet) -> None:
    result = explain(ruleset.apps["erp"], "/po/new", method="GET", roles=["manager"], now=APRIL)
    near = {(miss.kind, miss.name): miss.reason for miss in result.near_misses}
    assert near[("guide", "tour")] == "role manager not in audience [clerk, buyer]"
    assert near[("step", "raise-po/submit")] == "method GET not in [POST]"
    assert near[("step", "raise-po/open")] == "role manager not in audience [clerk]"


def test_explain_schedule_starts(ruleset: RuleSet) -> None:
    early = datetime(2026, 1, 1, tzinfo=timezone.utc)
    result = explain(ruleset.apps["erp"], "/x", roles=[], now=early)
    near = {(miss.kind, miss.name): miss.reason for miss in result.near_misses}
    assert near[("guide", "news")] == "schedule starts 2026-03-01"


def _linear(rules: AppRules, path: str) -> list[tuple[str, dict[str, Any]]]:
    """The baseline: test every page pattern of every guide in order."""
    found = []
    for guide in rules.guides:
        for pattern in guide.pages:
            params = CompiledRequest(pattern, rules.case_sensitive).match("GET", path, None)
            if params is not None:
                found.append((guide.id, params))
                break
    return found


@pytest.mark.parametrize("case_sensitive", [True, False], ids=["case-sensitive", "case-insensitive"])
def test_index_equals_linear_scan(case_sensitive: bool) -> None:
    generator = random.Random(11)
    words = ["po", "PO", "invoices", "reports", "a", "b", "x.aspx"]
    templates = ["/{w}", "/{w}/{w}", "/{w}/*", "/{w}/**", "/**/{w}", "/{w}/{{id:int}}", "/{w}/{{id}}/{w}", "re:^/{w}/[0-9]+$", "/*/{w}"]
    guides = []
    for index in range(300):
        template = generator.choice(templates)
        source = template.replace("{w}", "\0").format()
        while "\0" in source:
            source = source.replace("\0", generator.choice(words), 1)
        pattern = RequestPattern(parse_path_pattern(source))
        guides.append(Guide(id=f"g{index}", kind="announcement", title="T", body="B", pages=(pattern,)))
    rules = AppRules("erp", guides=guides, case_sensitive=case_sensitive)
    paths = ["/", "/po", "/po/12", "/PO/12", "/po/x/a", "/invoices/7/b", "/a/b/c/po", "/reports/", "/x.aspx/1", "/b/a"]
    for path in paths:
        indexed = [(match.guide.id, dict(match.params)) for match in rules.guides_for_page(path)]
        assert indexed == _linear(rules, path), path
