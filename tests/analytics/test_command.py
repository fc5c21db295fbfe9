"""Tests of `guidegate report`: period and app selection, formats, and the errors it prints."""

from __future__ import annotations

import asyncio
import datetime
import io
import json
from pathlib import Path

import pytest

from proxy.analytics.reports import DAY, day_start
from proxy.analytics.specs import FeatureSpec, Specs, WorkflowSpec
from proxy.cli import build_parser, main
from proxy.commands import report
from proxy.config import App, Config
from proxy.events import Event, SqliteStore

DAY_ONE = datetime.date(2024, 3, 4)
T0 = day_start(DAY_ONE)
SPECS = Specs(
    workflows=(WorkflowSpec("po", "Purchase order", ("open", "submit"), window_seconds=600.0),),
    features=(FeatureSpec("export", "Export"),),
)

CONFIG = """\
apps:
  - name: erp
    upstream: http://127.0.0.1:8081/
{more}
storage:
  path: data/events.sqlite3
"""


def loader(config: Config, app: App) -> Specs:
    return SPECS


def write_events(path: Path) -> None:
    async def write() -> None:
        store = SqliteStore(path)
        await store.open()
        try:
            await store.write(
                [
                    Event(time=T0 + 10, app="erp", visitor="v1", roles=("clerk",), kind="workflow_step", name="po", step="open"),
                    Event(time=T0 + 70, app="erp", visitor="v1", roles=("clerk",), kind="workflow_step", name="po", step="submit"),
                    Event(time=T0 + 2 * DAY, app="erp", visitor="v2", roles=("manager",), kind="feature", name="export"),
                ]
            )
        finally:
            await store.close()

    asyncio.run(write())


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(more=""), encoding="utf-8")
    write_events(tmp_path / "data" / "events.sqlite3")
    return path


def invoke(*argv: str, today: datetime.date = DAY_ONE) -> tuple[int, str, str]:
    arguments = build_parser().parse_args(["report", *argv])
    out, err = io.StringIO(), io.StringIO()
    code = report.run(arguments, loader, today=today, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_report_command_json(config_file: Path) -> None:
    code, out, err = invoke("--config", str(config_file), "--since", "2024-03-04", "--until", "2024-03-10", "--format", "json")
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert (data["app"], data["since"], data["until"]) == ("erp", "2024-03-04T00:00:00Z", "2024-03-11T00:00:00Z")
    assert data["active_visitors"] == 2
    total = data["workflows"][0]["total"]
    assert (total["started"], total["completed"], total["median_seconds"]) == (1, 1, 60.0)
    assert data["features"][0]["users"] == 1


def test_report_command_default_period(config_file: Path) -> None:
    code, out, _ = invoke("--config", str(config_file), "--format", "json", today=datetime.date(2024, 3, 5))
    data = json.loads(out)
    assert code == 0
    assert (data["since"], data["until"]) == ("2024-02-05T00:00:00Z", "2024-03-06T00:00:00Z")
    assert data["active_visitors"] == 1


def test_report_command_role_and_table(config_file: Path) -> None:
    code, out, _ = invoke(
        "--config", str(config_file), "--since", "2024-03-04", "--until", "2024-03-10",
        "--role", "manager", "--format", "csv", "--table", "features",
    )
    assert code == 0
    assert out == "feature,role,users,active,share\r\nexport,(all),1,1,1.0\r\nexport,manager,1,1,1.0\r\n"


def test_report_command_table_format(config_file: Path) -> None:
    code, out, _ = invoke("--config", str(config_file), "--since", "2024-03-04", "--until", "2024-03-04")
    assert code == 0
    assert out.startswith("app erp, from 2024-03-04T00:00:00Z to 2024-03-05T00:00:00Z, as of ")
    assert "  po        (all)        1          1      100.0%          1m 00s       1m 00s" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(("--app", "crm"), "unknown app 'crm'; expected one of: erp\n", id="unknown-app"),
        pytest.param(
            ("--since", "2024-03-05", "--until", "2024-03-04"),
            "--since 2024-03-05 is after --until 2024-03-04; expected since <= until\n",
            id="since-after-until",
        ),
        pytest.param(("--table", "help"), "--table works with --format csv only\n", id="table-without-csv"),
        pytest.param(
            ("--workflow", "refund"),
            "report failed: unknown workflow 'refund'; expected one of: po\n",
            id="unknown-workflow",
        ),
    ],
)
def test_report_command_usage_errors(config_file: Path, argv: tuple[str, ...], message: str) -> None:
    code, out, err = invoke("--config", str(config_file), *argv)
    assert (out, err) == ("", message)
    assert code == (1 if "report failed" in message else 2)


def test_report_command_several_apps(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        CONFIG.format(more="  - name: crm\n    upstream: http://127.0.0.1:8082/\n    path_prefix: /crm/\n"), encoding="utf-8"
    )
    code, _, err = invoke("--config", str(path))
    assert (code, err) == (2, "the configuration has several apps (erp, crm); choose one with --app\n")


def test_report_command_missing_database(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(more=""), encoding="utf-8")
    code, _, err = invoke("--config", str(path))
    assert code == 1
    assert err == (
        f"report failed: no event database at {tmp_path / 'data' / 'events.sqlite3'}; expected the file the "
        f"proxy writes (storage.path in {path})\n"
    )
    assert not (tmp_path / "data").exists()


def test_report_command_invalid_config(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("apps: []\nstorage:\n  queue_sise: 3\n", encoding="utf-8")
    code, _, err = invoke("--config", str(path))
    assert code == 1
    assert f"{path}:3:3: unknown key 'queue_sise' in 'storage'" in err


def test_report_command_bad_date(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["report", "--since", "2024-13-01"])
    assert caught.value.code == 2
    assert "argument --since: invalid date '2024-13-01'; expected YYYY-MM-DD such as 2024-03-01" in capsys.readouterr().err


def test_report_command_go_live(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(more="") + "analytics:\n  go_live: 2024-02-26\n", encoding="utf-8")
    write_events(tmp_path / "data" / "events.sqlite3")
    code, out, _ = invoke("--config", str(path), "--since", "2024-03-04", "--until", "2024-03-10", "--format", "json")
    assert code == 0
    assert [week["start"] for week in json.loads(out)["help"]] == ["2024-02-26", "2024-03-04"]
