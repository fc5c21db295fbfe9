"""The `check`, `match` and `schema` commands, run through proxy.cli.main."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from proxy.cli import main
from proxy.ruleset.schema import rules_json_schema

ROOT = Path(__file__).resolve().parents[2]

RULES = """
app: erp
roles:
  declared: [clerk, manager]
guides:
  - id: tour
    kind: walkthrough
    title: Tour
    audience: clerk
    pages: /po/new
    steps: [{target: '#vendor', body: Vendor}]
  - id: approve-tip
    kind: tip
    title: Approve
    audience: manager
    pages: '/po/{id:int}'
    target: '#approve'
    body: Approve here
workflows:
  - id: raise-po
    title: Raise
    steps:
      - {name: open, path: /po/new, methods: GET}
      - {name: submit, path: /po/new, methods: POST, fields: [vendor]}
features:
  - {id: copy, title: Copy, requests: {path: '/po/{id:int}/copy', methods: POST}}
"""

CONFIG = """
apps:
  - name: erp
    upstream: http://127.0.0.1:9/
    path_prefix: /erp/
    rules: [rules]
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "erp.yaml").write_text(textwrap.dedent(RULES).lstrip(), encoding="utf-8")
    (tmp_path / "config.yaml").write_text(textwrap.dedent(CONFIG).lstrip(), encoding="utf-8")
    return tmp_path


def test_check_paths(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "rules"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "rules: OK, 2 guides, 1 workflow, 1 feature in 1 file (apps: erp)\n"
    assert captured.err == ""


def test_check_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(ROOT / "rules" / "examples")]) == 0
    assert "apps: erp, roundup, timesheets" in capsys.readouterr().out


def test_check_config(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0
    assert capsys.readouterr().out == (
        "config.yaml: OK\nrules: OK, 2 guides, 1 workflow, 1 feature in 1 file (apps: erp)\n"
    )


def test_check_broken_rules(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = (project / "rules" / "erp.yaml").read_text().replace("audience: clerk", "audience: clerc")
    (project / "rules" / "erp.yaml").write_text(broken.replace("kind: tip", "kind: tipp"))
    (project / "rules" / "more.yaml").write_text("app: erp\nguide: []\n")
    assert main(["check", "--config", "config.yaml"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "rules/erp.yaml:12:11: invalid value 'tipp' for 'guides[1].kind'; expected one of: walkthrough, tip, hotspot, "
        "announcement, banner, checklist (did you mean 'tip'?)",
        "rules/more.yaml:2:1: unknown key 'guide'; expected one of: app, locale, case_sensitive, roles, guides, "
        "workflows, features (did you mean 'guides'?)",
        "2 problem(s) found",
    ]


def test_check_unknown_role(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = (project / "rules" / "erp.yaml").read_text().replace("audience: clerk", "audience: clerc")
    (project / "rules" / "erp.yaml").write_text(broken)
    assert main(["check", "rules"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "rules/erp.yaml:8:15: unknown role 'clerc'; expected a role declared for app 'erp': clerk, manager "
        "(did you mean 'clerk'?)",
        "1 problem(s) found",
    ]


def test_check_missing_rule_path(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "config.yaml").write_text(textwrap.dedent(CONFIG).lstrip().replace("[rules]", "[rules, gone.yaml]"))
    assert main(["check"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "config.yaml:5:20: rule path 'gone.yaml' not found; expected an existing YAML file or folder",
        "1 problem(s) found",
    ]


def test_check_invalid_config(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "config.yaml").write_text("apps: []\nlistners: []\n")
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    assert "config.yaml:2:1: unknown key 'listners'" in err


def test_match_applies(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["match", "/erp/po/new", "--role", "clerk", "--method", "post"]) == 0
    assert capsys.readouterr().out == textwrap.dedent(
        """\
        app erp: POST /po/new as clerk

        guides that apply (1):
          tour                         walkthrough  rules/erp.yaml:5:5

        workflow steps (1):
          raise-po/submit              step 2       rules/erp.yaml:23:9  needs form fields vendor

        features (0):

        near misses (2):
          guide approve-tip: path /po/new: parameter id is not an int  [rules/erp.yaml:11:5]
          step raise-po/open: method POST not in [GET]  [rules/erp.yaml:22:9]

        1 other rule(s) do not match the path; --all lists them
        """
    )


def test_match_near_misses(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["match", "http://erp.example/erp/po/12?x=1", "--role", "clerk", "--role", "buyer"]) == 0
    out = capsys.readouterr().out
    assert "app erp: GET /po/12 as clerk, buyer" in out
    assert "  guide approve-tip: roles buyer, clerk not in audience [manager]  [rules/erp.yaml:11:5]" in out


def test_match_all_and_params(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["match", "/po/12/copy", "--rules", "rules", "--method", "POST", "--all"]) == 0
    out = capsys.readouterr().out
    assert "  copy                         feature      rules/erp.yaml:25:5  params id=12" in out
    assert "rules that do not apply (4):" in out
    assert "  guide tour: path /po/12/copy does not match /po/new  [rules/erp.yaml:5:5]" in out


USAGE = [
    pytest.param(["match", "/po/new", "--rules", "rules", "--app", "crm"], "unknown app 'crm'; expected one of: erp", id="unknown-app"),
    pytest.param(["match", "/po/new"], "path /po/new is not under app erp's path_prefix /erp/", id="outside-prefix"),
    pytest.param(["match", "/erp/", "--attribute", "site"], "invalid --attribute 'site'; expected NAME=VALUE", id="attribute"),
    pytest.param(["match", "/erp/", "--at", "soon"], "invalid --at 'soon'; expected a time", id="time"),
]


@pytest.mark.parametrize(("argv", "message"), USAGE)
def test_match_usage_errors(project: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_match_several_apps(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(project / "rules" / "erp.yaml", project / "crm.yaml")
    (project / "crm.yaml").write_text((project / "crm.yaml").read_text().replace("app: erp", "app: crm"))
    assert main(["match", "/po/new", "--rules", "rules", "--rules", "crm.yaml"]) == 2
    assert "several apps (crm, erp); choose one with --app" in capsys.readouterr().err
    assert main(["match", "/po/new", "--rules", "rules", "--rules", "crm.yaml", "--app", "crm", "--role", "clerk"]) == 0
    assert "app crm: GET /po/new as clerk" in capsys.readouterr().out


def test_match_invalid_rules(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "rules" / "erp.yaml").write_text("guides: 3\n")
    assert main(["match", "/erp/po/new"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "rules/erp.yaml:1:9: invalid value for 'guides[0]': a single value; expected a mapping",
        "1 problem(s) found",
    ]


def test_schema_prints(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == rules_json_schema()
    assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "rules.schema.json"
    assert main(["schema", "--output", str(target)]) == 0
    assert json.loads(target.read_text()) == rules_json_schema()
    assert capsys.readouterr().out == f"wrote {target}\n"
