"""`guidegate match --user`: roles from the app's identity chain decide what applies."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.cli import main

RULES = """\
guides:
  - id: po-tip
    kind: tip
    title: Cost center
    audience: [clerk]
    pages: ["/po/new"]
    target: "#cost_center"
    body: Four digits.
"""


def write_deployment(folder: Path) -> Path:
    (folder / "rules").mkdir()
    (folder / "rules" / "po.yaml").write_text(RULES, encoding="utf-8")
    (folder / "roles.csv").write_text("carla,clerk\nmax,manager\n", encoding="utf-8")
    config = folder / "config.yaml"
    config.write_text(
        "apps:\n"
        "  - name: erp\n"
        "    upstream: http://127.0.0.1:9/\n"
        "    rules: [rules]\n"
        "    identity:\n"
        "      sources: [map]\n"
        "      map: roles.csv\n"
        "      default_roles: [staff]\n",
        encoding="utf-8",
    )
    return config


@pytest.mark.parametrize(
    ("user", "roles_line", "applies"),
    [
        pytest.param("carla", "user carla: roles clerk (from map)", True, id="mapped-clerk"),
        pytest.param("max", "user max: roles manager (from map)", False, id="mapped-manager"),
        pytest.param("nobody", "user nobody: roles staff (from default)", False, id="default-role"),
    ],
)
def test_match_user_roles(tmp_path: Path, capsys: pytest.CaptureFixture[str], user: str, roles_line: str, applies: bool) -> None:
    config = write_deployment(tmp_path)

    code = main(["match", "/po/new", "--config", str(config), "--user", user])

    output = capsys.readouterr().out
    assert code == 0
    assert output.splitlines()[0] == roles_line
    assert ("guides that apply (1):" in output) is applies


def test_match_user_needs_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_deployment(tmp_path)

    code = main(["match", "/po/new", "--rules", str(config.parent / "rules"), "--user", "carla"])

    assert code == 2
    assert capsys.readouterr().err == "guidegate match: --user needs --config, because roles come from the app's identity settings\n"
