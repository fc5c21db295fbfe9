"""Rule file sources: the fast parser, positions after the tree is dropped, and the reload cache."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from proxy.errors import InvalidFileError
from proxy.ruleset import load_rules
from proxy.ruleset.source import RuleFileCache, compose_fast
from proxy.yamlbind import compose

PARSE_ERRORS = [
    pytest.param("guides:\n  - id: t\n   kind: tip\n", id="indentation"),
    pytest.param("a: [1, 2\n", id="unclosed-flow"),
    pytest.param("a: *nowhere\n", id="undefined-alias"),
    pytest.param("a: 'open\n", id="unclosed-quote"),
]


@pytest.mark.parametrize("text", PARSE_ERRORS)
def test_compose_fast_errors_match_yamlbind(text: str) -> None:
    with pytest.raises(InvalidFileError) as fast:
        compose_fast(text, "a.yaml")
    with pytest.raises(InvalidFileError) as reference:
        compose(text, "a.yaml")
    assert [str(problem) for problem in fast.value.problems] == [str(problem) for problem in reference.value.problems]


def test_compose_fast_alias_limit() -> None:
    text = "base: &b [x]\nitems:\n" + "".join("  - *b\n" for _ in range(1001))
    with pytest.raises(InvalidFileError) as raised:
        compose_fast(text, "a.yaml")
    assert [str(problem) for problem in raised.value.problems] == [
        "a.yaml:1003:5: invalid YAML: more than 1000 aliases; expected a document that repeats itself less "
        "(write the values out)"
    ]


def test_compose_fast_same_tree() -> None:
    text = "a: 1\nb: [x, 'y', {c: ~}]\nd: &anchor {e: 2026-01-01}\nf: *anchor\n"

    def shape(node: yaml.Node) -> object:
        if isinstance(node, yaml.MappingNode):
            return [(shape(key), shape(value)) for key, value in node.value]
        if isinstance(node, yaml.SequenceNode):
            return [shape(item) for item in node.value]
        return (node.tag, node.value, node.start_mark.line, node.start_mark.column, getattr(node, "style", None) or None)

    fast, reference = compose_fast(text, "a.yaml"), compose(text, "a.yaml")
    assert fast is not None and reference is not None
    assert shape(fast) == shape(reference)


RULE = "features:\n  - {{id: {name}, title: F, requests: /{name}}}\n"


@pytest.fixture
def rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "rules"
    folder.mkdir()
    for name in ("a", "b"):
        (folder / f"{name}.yaml").write_text(RULE.format(name=name), encoding="utf-8")
    return folder


def test_cache_reuses_unchanged_files(rules: Path) -> None:
    cache = RuleFileCache()
    first = load_rules({"erp": [rules]}, cache=cache)
    (rules / "b.yaml").write_text(RULE.format(name="c"), encoding="utf-8")
    second = load_rules({"erp": [rules]}, cache=cache)
    first_features = first.apps["erp"].features
    second_features = second.apps["erp"].features
    assert [feature.id for feature in second_features] == ["a", "c"]
    assert second_features[0] is first_features[0]
    assert second_features[1] is not first_features[1]
    assert len(cache) == 2


def test_cache_reports_problems_again(rules: Path) -> None:
    cache = RuleFileCache()
    (rules / "b.yaml").write_text("features: [{id: b, titel: F, requests: /b}]\n", encoding="utf-8")
    for _ in range(2):
        with pytest.raises(InvalidFileError) as raised:
            load_rules({"erp": [rules]}, cache=cache)
        assert [str(problem) for problem in raised.value.problems] == [
            "rules/b.yaml:1:12: missing key 'title' in 'features[0]'; expected the name of the feature in reports",
            "rules/b.yaml:1:20: unknown key 'titel' in 'features[0]'; expected one of: id, title, requests, audience "
            "(did you mean 'title'?)",
        ]


def test_cache_positions_after_tree_dropped(rules: Path) -> None:
    cache = RuleFileCache()
    load_rules({"erp": [rules]}, cache=cache)
    (rules / "c.yaml").write_text("# again\n" + RULE.format(name="a"), encoding="utf-8")
    with pytest.raises(InvalidFileError) as raised:
        load_rules({"erp": [rules]}, cache=cache)
    assert [str(problem) for problem in raised.value.problems] == [
        "rules/c.yaml:3:10: duplicate feature id 'a' in app 'erp'; first defined at rules/a.yaml:2; "
        "expected each feature id once per app"
    ]


def test_cache_forgets_removed_files(rules: Path) -> None:
    cache = RuleFileCache()
    load_rules({"erp": [rules]}, cache=cache)
    (rules / "b.yaml").unlink()
    assert [feature.id for feature in load_rules({"erp": [rules]}, cache=cache).apps["erp"].features] == ["a"]
    assert len(cache) == 1
