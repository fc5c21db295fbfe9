"""Page configs and previews built from a real rule set by RulesetPages."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from proxy.ruleset import load_rule_paths
from proxy.runtime import RequestContext, RulesetPages

RULES = """
app: erp
guides:
  - id: approve-walk
    kind: walkthrough
    title: Approve an order
    audience: {roles: [manager]}
    pages: [/po/approve]
    steps:
      - body: Check the vendor.
        target: "#vendor"
      - body: Approve.
        target: "#approve"
  - id: first-week
    kind: checklist
    title: First week
    items:
      - {title: Raise an order, workflow: raise-po}
workflows:
  - id: raise-po
    title: Raise an order
    steps:
      - {name: submit, path: /po/new, methods: [POST]}
"""

CLERK = RequestContext(app="erp", visitor="v1", roles=frozenset({"clerk"}))


def pages(tmp_path: Path) -> RulesetPages:
    path = tmp_path / "erp.yaml"
    path.write_text(RULES, encoding="utf-8")
    ruleset = load_rule_paths([path])
    return RulesetPages(
        lambda: ruleset, completed_workflows=lambda context: {"raise-po"}, clock=lambda: datetime(2026, 1, 5, tzinfo=timezone.utc)
    )


def test_page_config_filters_audience(tmp_path: Path) -> None:
    config = pages(tmp_path).page_config(CLERK, "/po/approve", "")

    assert [guide["id"] for guide in config["guides"]] == ["first-week"]
    assert config["guides"][0]["items"][0]["done"] is True


def test_preview_ignores_audience_and_pages(tmp_path: Path) -> None:
    guide = pages(tmp_path).preview_guide(CLERK, "approve-walk")

    assert guide is not None
    assert (guide["id"], guide["starts_here"], guide["steps_here"], guide["advanced_here"], guide["params"]) == (
        "approve-walk", True, [0, 1], [], {}
    )


def test_preview_checklist_done_flags(tmp_path: Path) -> None:
    guide = pages(tmp_path).preview_guide(CLERK, "first-week")

    assert guide is not None
    assert [item["done"] for item in guide["items"]] == [True]


def test_preview_unknown_guide(tmp_path: Path) -> None:
    source = pages(tmp_path)

    assert source.preview_guide(CLERK, "nope") is None
    assert source.preview_guide(RequestContext(app="other", visitor="v1"), "approve-walk") is None


@pytest.mark.parametrize(
    ("prefix", "url", "expected"),
    [
        pytest.param("/erp/", "/erp/po/approve", "/po/approve", id="cut"),
        pytest.param("/erp/", "/erp/", "/", id="root"),
        pytest.param("/erp/", "/other/po", "/other/po", id="outside"),
        pytest.param("/", "/po/approve", "/po/approve", id="mounted-at-root"),
    ],
)
def test_app_url_cuts_path_prefix(tmp_path: Path, prefix: str, url: str, expected: str) -> None:
    path = tmp_path / "erp.yaml"
    path.write_text(RULES, encoding="utf-8")
    ruleset = load_rule_paths([path])
    source = RulesetPages(lambda: ruleset, path_prefix=lambda app: prefix)

    assert source.app_url("erp", url) == expected
    assert source.page_config(CLERK, url, "")["path"] == expected.split("?")[0]
