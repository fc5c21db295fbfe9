"""The per-page guide config for the browser runtime: its exact JSON shape."""

from __future__ import annotations

import json
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pytest

from proxy.ruleset import RuleSet, load_rule_paths
from proxy.ruleset.page_config import page_config

RULES = """
app: erp
locale: en
guides:
  - id: tour
    kind: walkthrough
    title: {en: Tour, de: Rundgang}
    audience: clerk
    pages: /po/new
    trigger: first_visit
    workflows: raise-po
    on_missing: end
    steps:
      - target: {selector: ['#vendor', 'input[name=vendor]'], text: Vendor, frame: main}
        title: Vendor
        body: {en: Pick one, de: Einen wählen}
        placement: right
        advance: change
      - target: '#save'
        body: Save
        advance: {page: '/po/{id:int}'}
        on_missing: skip
      - body: Done
  - id: banner
    kind: banner
    title: Maintenance
    body: Read-only on Saturday
    position: bottom
    pages: '/po/{id:int}'
    frequency: {max_times: 2}
    schedule: {from: 2026-03-01, until: 2026-03-07, timezone: Europe/Berlin}
    elements: {present: '#main', absent: ['.locked']}
    dismissible: false
    help_menu: false
  - id: first-week
    kind: checklist
    title: First week
    pages: /po/new
    trigger: {selector: '#help', event: click}
    items:
      - {title: Raise an order, workflow: raise-po, guide: tour, link: /po/new}
      - {title: Approve, workflow: approve}
workflows:
  - id: raise-po
    title: Raise
    steps: [{name: open, path: /po/new}]
  - id: approve
    title: Approve
    steps: [{name: approve, path: '/po/{id:int}/approve', methods: POST}]
"""

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def ruleset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RuleSet:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "erp.yaml").write_text(textwrap.dedent(RULES).lstrip(), encoding="utf-8")
    return load_rule_paths(["erp.yaml"])


def _without_revisions(config: dict[str, object]) -> dict[str, object]:
    guides = config["guides"]
    assert isinstance(guides, list)
    for guide in guides:
        assert len(guide.pop("revision")) == 12
    return config


def test_page_config_start_page(ruleset: RuleSet) -> None:
    config = page_config(ruleset, "erp", "/po/new?x=1", "GET", ["clerk"], NOW, completed_workflows={"raise-po"})
    assert json.loads(json.dumps(config)) == config
    assert _without_revisions(config) == {
        "version": 1,
        "app": "erp",
        "path": "/po/new",
        "guides": [
            {
                "id": "tour",
                "kind": "walkthrough",
                "locale": "en",
                "title": {"en": "Tour", "de": "Rundgang"},
                "priority": 0,
                "trigger": {"mode": "first_visit"},
                "frequency": {"mode": "once"},
                "schedule": None,
                "elements": {"present": [], "absent": []},
                "dismissible": True,
                "help_menu": True,
                "workflows": ["raise-po"],
                "on_missing": "end",
                "steps": [
                    {
                        "title": {"en": "Vendor"},
                        "body": {"en": "Pick one", "de": "Einen wählen"},
                        "target": {"selectors": ["#vendor", "input[name=vendor]"], "text": "Vendor", "frame": "main"},
                        "placement": "right",
                        "advance": "change",
                        "on_missing": "end",
                    },
                    {
                        "title": None,
                        "body": {"en": "Save"},
                        "target": {"selectors": ["#save"], "text": None, "frame": None},
                        "placement": "auto",
                        "advance": "page",
                        "on_missing": "skip",
                    },
                    {
                        "title": None,
                        "body": {"en": "Done"},
                        "target": None,
                        "placement": "auto",
                        "advance": "button",
                        "on_missing": "end",
                    },
                ],
                "params": {},
                "starts_here": True,
                "steps_here": [0, 1],
                "advanced_here": [],
            },
            {
                "id": "first-week",
                "kind": "checklist",
                "locale": "en",
                "title": {"en": "First week"},
                "priority": 0,
                "trigger": {"mode": "element", "selector": "#help", "event": "click"},
                "frequency": {"mode": "until_completed"},
                "schedule": None,
                "elements": {"present": [], "absent": []},
                "dismissible": True,
                "help_menu": True,
                "workflows": [],
                "items": [
                    {"title": {"en": "Raise an order"}, "workflow": "raise-po", "guide": "tour", "link": "/po/new", "done": True},
                    {"title": {"en": "Approve"}, "workflow": "approve", "guide": None, "link": None, "done": False},
                ],
                "params": {},
                "starts_here": True,
                "steps_here": [],
                "advanced_here": [],
            },
        ],
    }


def test_page_config_continuation(ruleset: RuleSet) -> None:
    config = page_config(ruleset, "erp", "/po/42", "GET", ["clerk"], NOW)
    guides = {guide["id"]: guide for guide in config["guides"]}
    assert sorted(guides) == ["banner", "tour"]
    tour = guides["tour"]
    assert (tour["starts_here"], tour["steps_here"], tour["advanced_here"], tour["params"]) == (False, [2], [1], {"id": 42})


def test_page_config_banner(ruleset: RuleSet) -> None:
    banner = _without_revisions(page_config(ruleset, "erp", "/po/42", "GET", [], NOW))["guides"]
    assert isinstance(banner, list)
    assert banner == [
        {
            "id": "banner",
            "kind": "banner",
            "locale": "en",
            "title": {"en": "Maintenance"},
            "priority": 0,
            "trigger": {"mode": "automatic"},
            "frequency": {"mode": "max_times", "max_times": 2},
            "schedule": {"from": "2026-03-01T00:00:00+01:00", "until": "2026-03-08T00:00:00+01:00"},
            "elements": {"present": ["#main"], "absent": [".locked"]},
            "dismissible": False,
            "help_menu": False,
            "workflows": [],
            "body": {"en": "Read-only on Saturday"},
            "position": "bottom",
            "params": {"id": 42},
            "starts_here": True,
            "steps_here": [],
            "advanced_here": [],
        }
    ]


def test_page_config_no_server_patterns(ruleset: RuleSet) -> None:
    text = json.dumps(page_config(ruleset, "erp", "/po/new", "GET", ["clerk"], NOW))
    assert "/po/{id:int}" not in text
    assert "audience" not in text


def test_page_config_unknown_app(ruleset: RuleSet) -> None:
    assert page_config(ruleset, "crm", "/", "GET", [], NOW) == {"version": 1, "app": "crm", "path": "/", "guides": []}


def test_page_config_revision_stable(ruleset: RuleSet, tmp_path: Path) -> None:
    first = page_config(ruleset, "erp", "/po/new", "GET", ["clerk"], NOW)["guides"][0]["revision"]
    again = page_config(load_rule_paths(["erp.yaml"]), "erp", "/po/new", "GET", ["clerk"], NOW)["guides"][0]["revision"]
    assert first == again
    (tmp_path / "erp.yaml").write_text(textwrap.dedent(RULES).lstrip().replace("Pick one", "Pick a vendor"), encoding="utf-8")
    changed = page_config(load_rule_paths(["erp.yaml"]), "erp", "/po/new", "GET", ["clerk"], NOW)["guides"][0]["revision"]
    assert changed != first


def test_page_config_decodes_path(ruleset: RuleSet) -> None:
    config = page_config(ruleset, "erp", "/po/n%65w", "GET", ["clerk"], NOW)
    assert config["path"] == "/po/new"
    assert [guide["id"] for guide in config["guides"]] == ["tour", "first-week"]
