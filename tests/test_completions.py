"""Tests of Completions: which workflows each visitor of each app completed, and the bound on visitors remembered."""

from __future__ import annotations

import pytest

from proxy.completions import Completions

Noted = tuple[str, str, str]
"""(app, visitor, workflow) of one completion."""


@pytest.mark.parametrize(
    ("noted", "expected"),
    [
        pytest.param([("erp", "v1", "raise-po")], {"raise-po"}, id="one"),
        pytest.param([("erp", "v1", "raise-po"), ("erp", "v1", "raise-po")], {"raise-po"}, id="twice"),
        pytest.param([("erp", "v1", "raise-po"), ("erp", "v1", "book")], {"raise-po", "book"}, id="two-workflows"),
        pytest.param([("erp", "v2", "raise-po")], set(), id="other-visitor"),
        pytest.param([("crm", "v1", "raise-po")], set(), id="other-app"),
        pytest.param([], set(), id="none"),
    ],
)
def test_completions_note(noted: list[Noted], expected: set[str]) -> None:
    completions = Completions()
    for app, visitor, workflow in noted:
        completions.note(app, visitor, workflow)
    assert completions.completed("erp", "v1") == frozenset(expected)


def test_completions_bounded() -> None:
    completions = Completions(max_visitors=2)
    for visitor in ("v1", "v2", "v1", "v3"):
        completions.note("erp", visitor, "raise-po")
    assert completions.completed("erp", "v1") == frozenset({"raise-po"})
    assert completions.completed("erp", "v2") == frozenset()
    assert completions.completed("erp", "v3") == frozenset({"raise-po"})
