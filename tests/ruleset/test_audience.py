"""Audiences: role expressions (any of, all, not, anyone), user attributes and their explanations."""

from __future__ import annotations

import pytest
import yaml

from proxy.errors import InvalidFileError
from proxy.ruleset.audience import Audience, bind_audience
from proxy.yamlbind import INVALID, BindContext


def audience(text: str) -> Audience:
    context = BindContext("rules.yaml", environ={})
    node = yaml.compose(text)
    assert node is not None
    value = bind_audience(node, context, "audience")
    if context.problems:
        raise InvalidFileError(context.problems)
    assert value is not INVALID
    assert isinstance(value, Audience)
    return value


EXPRESSIONS = [
    pytest.param("'*'", [], True, id="anyone-no-roles"),
    pytest.param("'*'", ["clerk"], True, id="anyone"),
    pytest.param("clerk", ["clerk"], True, id="single"),
    pytest.param("clerk", ["manager"], False, id="single-miss"),
    pytest.param("clerk", [], False, id="single-no-roles"),
    pytest.param("[clerk, buyer]", ["buyer"], True, id="any-of-list"),
    pytest.param("[clerk, buyer]", ["manager"], False, id="any-of-list-miss"),
    pytest.param("{any: [clerk, buyer]}", ["clerk", "x"], True, id="any-key"),
    pytest.param("{all: [clerk, emea]}", ["clerk", "emea"], True, id="all"),
    pytest.param("{all: [clerk, emea]}", ["clerk"], False, id="all-miss"),
    pytest.param("{not: intern}", ["clerk"], True, id="not"),
    pytest.param("{not: intern}", ["clerk", "intern"], False, id="not-miss"),
    pytest.param("{not: intern}", [], True, id="not-no-roles"),
    pytest.param("{all: [clerk, {not: admin}]}", ["clerk"], True, id="nested"),
    pytest.param("{all: [clerk, {not: admin}]}", ["clerk", "admin"], False, id="nested-miss"),
    pytest.param("[{all: [a, b]}, c]", ["c"], True, id="list-of-expressions"),
    pytest.param("{roles: clerk, attributes: {site: berlin}}", ["clerk"], False, id="attribute-missing"),
]


@pytest.mark.parametrize(("text", "roles", "expected"), EXPRESSIONS)
def test_audience_matches(text: str, roles: list[str], expected: bool) -> None:
    assert audience(text).matches(frozenset(roles)) is expected


def test_audience_attributes() -> None:
    bound = audience("{roles: clerk, attributes: {site: [berlin, hamburg], dept: sales}}")
    assert bound.matches(frozenset({"clerk"}), {"site": "hamburg", "dept": "sales"})
    assert not bound.matches(frozenset({"clerk"}), {"site": "munich", "dept": "sales"})
    assert bound.explain(frozenset({"clerk"}), {"site": "munich", "dept": "sales"}) == (
        "attribute site is 'munich', not one of [berlin, hamburg]"
    )
    assert bound.explain(frozenset({"clerk"}), {"site": "berlin"}) == "attribute dept is not set; audience needs one of [sales]"


EXPLAIN = [
    pytest.param("manager", ["clerk"], "role clerk not in audience [manager]", id="single"),
    pytest.param("[manager, admin]", ["clerk", "buyer"], "roles buyer, clerk not in audience [manager, admin]", id="list"),
    pytest.param("manager", [], "no roles; audience is manager", id="no-roles"),
    pytest.param("{all: [clerk, emea]}", ["clerk"], "roles [clerk] do not satisfy audience all: [clerk, emea]", id="all"),
    pytest.param("{not: intern}", ["intern"], "roles [intern] do not satisfy audience not: intern", id="not"),
    pytest.param("clerk", ["clerk"], None, id="member"),
]


@pytest.mark.parametrize(("text", "roles", "expected"), EXPLAIN)
def test_audience_explain(text: str, roles: list[str], expected: str | None) -> None:
    assert audience(text).explain(frozenset(roles)) == expected


INVALID_AUDIENCES = [
    pytest.param("{alll: [a]}", "rules.yaml:1:2: unknown key 'alll' in 'audience'; expected one of: any, all, not, roles, attributes (did you mean 'all'?)", id="misspelt-operator"),
    pytest.param("{all: [a], not: b}", "rules.yaml:1:1: invalid role expression 'audience' with 2 keys; expected exactly one of: any, all, not", id="two-operators"),
    pytest.param("[]", "rules.yaml:1:1: empty list in 'audience'; expected at least one role", id="empty-list"),
    pytest.param("[clerk, ~]", "rules.yaml:1:9: empty role in 'audience[1]'; expected a role name, a list of roles or '*'", id="null-role"),
    pytest.param("{roles: a, atributes: {}}", "rules.yaml:1:12: unknown key 'atributes' in 'audience'; expected one of: roles, attributes (did you mean 'attributes'?)", id="misspelt-attributes"),
    pytest.param("{roles: a, attributes: {site: []}}", "rules.yaml:1:31: empty list for 'audience.attributes.site'; expected at least one allowed value", id="empty-attribute"),
]


@pytest.mark.parametrize(("text", "message"), INVALID_AUDIENCES)
def test_audience_invalid(text: str, message: str) -> None:
    with pytest.raises(InvalidFileError) as raised:
        audience(text)
    assert [str(problem) for problem in raised.value.problems] == [message]


def test_audience_positions() -> None:
    bound = audience("[clerk,\n  buyer]")
    assert [(role.name, role.line, role.column) for role in bound.roles.role_names()] == [("clerk", 1, 2), ("buyer", 2, 3)]
