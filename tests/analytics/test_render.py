"""Tests of the renderers: terminal tables, CSV, JSON and the HTML dashboard with its SVG charts."""

from __future__ import annotations

import datetime
import json
import re

import pytest

from proxy.analytics.charts import funnel_svg, trend_svg
from proxy.analytics.html import render_dashboard
from proxy.analytics.models import (
    Cohort,
    FeatureReport,
    Funnel,
    GuideEffect,
    GuideReport,
    HelpWeek,
    Report,
    RoleActivity,
    RoleShare,
    StepStats,
    UnusedFeatures,
    WorkflowReport,
)
from proxy.analytics.render import (
    format_seconds,
    iso_time,
    render_csv,
    render_json,
    render_table_csv,
    render_text,
)
from proxy.analytics.tables import TABLE_NAMES, report_tables, table

EVIL = '<script>alert("x")</script>'

FUNNEL = Funnel(
    role=None, started=3, completed=2, abandoned=1, cancelled=0, open=0, failed_runs=1,
    conversion=2 / 3, median_seconds=95.5, p90_seconds=4000.0,
    steps=(StepStats("open", 3, 3, 0, 0), StepStats(EVIL, 3, 2, 2, 1)),
)
CLERK = Funnel(
    role="clerk & co", started=0, completed=0, abandoned=0, cancelled=0, open=0, failed_runs=0,
    conversion=None, median_seconds=None, p90_seconds=None,
    steps=(StepStats("open", 0, 0, 0, 0), StepStats(EVIL, 0, 0, 0, 0)),
)
REPORT = Report(
    app="erp",
    since=1_709_251_200.0,
    until=1_709_856_000.0,
    as_of=1_709_856_000.5,
    role=None,
    workflow=None,
    go_live=datetime.date(2024, 2, 26),
    active_visitors=4,
    roles=(RoleActivity("clerk & co", 2),),
    workflows=(WorkflowReport("po", EVIL, "ordered", 600.0, FUNNEL, (CLERK,)),),
    features=(FeatureReport("export", "Export", 5, 1, 4, 0.25, (RoleShare("clerk & co", 1, 2, 0.5),)),),
    unused_features=(UnusedFeatures("clerk & co", ("bulk",)),),
    guides=(
        GuideReport(
            "tour", "Tour", 2, 1, 1, 0, 1,
            (GuideEffect("po", Cohort(1, 1, 1, 1.0, 0, 0.0), Cohort(2, 2, 1, 0.5, 1, 0.5)),),
        ),
    ),
    help=(HelpWeek(1, datetime.date(2024, 2, 26), 3, 2), HelpWeek(2, datetime.date(2024, 3, 4), 0, 0)),
)


def test_render_text() -> None:
    assert render_text(REPORT) == "\n".join(
        [
            "app erp, from 2024-03-01T00:00:00Z to 2024-03-08T00:00:00Z, as of 2024-03-08T00:00:00.500000Z",
            "",
            "Active visitors",
            "  role        active_visitors",
            "  ----------  ---------------",
            "  (all)                     4",
            "  clerk & co                2",
            "",
            "Workflow runs",
            "  workflow  role        started  completed  conversion  median_seconds  p90_seconds  abandoned  cancelled  open  failed_runs",
            "  --------  ----------  -------  ---------  ----------  --------------  -----------  ---------  ---------  ----  -----------",
            "  po        (all)             3          2       66.7%          1m 36s       1h 06m          1          0     0            1",
            "  po        clerk & co        0          0           -               -            -          0          0     0            0",
            "",
            "Steps: reached, passed, failed attempts, abandoned runs stopped there",
            "  workflow  role        step                         reached  passed  failures  stopped",
            "  --------  ----------  ---------------------------  -------  ------  --------  -------",
            "  po        (all)       open                               3       3         0        0",
            f"  po        (all)       {EVIL}        3       2         2        1",
            "  po        clerk & co  open                               0       0         0        0",
            f"  po        clerk & co  {EVIL}        0       0         0        0",
            "",
            "Feature use: share of active visitors",
            "  feature  role        users  active  share",
            "  -------  ----------  -----  ------  -----",
            "  export   (all)           1       4  25.0%",
            "  export   clerk & co      1       2  50.0%",
            "",
            "Features a role never used",
            "  role        feature",
            "  ----------  -------",
            "  clerk & co  bulk",
            "",
            "Guides",
            "  guide  shown  viewers  completed  dismissed  target_missing",
            "  -----  -----  -------  ---------  ---------  --------------",
            "  tour       2        1          1          0               1",
            "",
            "Guide effect: runs of visitors who saw the guide and of those who did not",
            "  guide  workflow  visitors_who  visitors  runs  completed  conversion  failed_runs  failure_rate",
            "  -----  --------  ------------  --------  ----  ---------  ----------  -----------  ------------",
            "  tour   po        saw                  1     1          1      100.0%            0          0.0%",
            "  tour   po        did_not_see          2     2          1       50.0%            1         50.0%",
            "",
            "Help requests per week",
            "  week       start  requests  visitors",
            "  ----  ----------  --------  --------",
            "     1  2024-02-26         3         2",
            "     2  2024-03-04         0         0",
            "",
        ]
    )


def test_render_table_csv_exact_numbers() -> None:
    assert render_table_csv(table(REPORT, "workflows")) == (
        "workflow,role,started,completed,conversion,median_seconds,p90_seconds,abandoned,cancelled,open,failed_runs\r\n"
        f"po,(all),3,2,0.6666666666666666,95.5,4000.0,1,0,0,1\r\n"
        "po,clerk & co,0,0,,,,0,0,0,0\r\n"
    )


def test_render_table_csv_quotes_text() -> None:
    assert render_table_csv(table(REPORT, "steps")).splitlines()[2] == 'po,(all),"<script>alert(""x"")</script>",3,2,2,1'


def test_render_csv_sections() -> None:
    text = render_csv(REPORT)
    assert re.findall(r"^# (\w+)\r$", text, re.MULTILINE) == list(TABLE_NAMES)
    assert text.startswith("# roles\r\nrole,active_visitors\r\n(all),4\r\nclerk & co,2\r\n\r\n# workflows\r\n")


def test_table_unknown_name() -> None:
    with pytest.raises(KeyError) as caught:
        table(REPORT, "funnels")
    assert caught.value.args[0] == (
        "unknown table 'funnels'; expected one of: roles, workflows, steps, features, unused_features, "
        "guides, guide_effect, help"
    )


def test_report_tables_order() -> None:
    assert tuple(current.name for current in report_tables(REPORT)) == TABLE_NAMES


def test_render_json() -> None:
    text = render_json(REPORT)
    data = json.loads(text)
    assert list(data) == [
        "app", "since", "until", "as_of", "role", "workflow", "go_live", "active_visitors", "roles",
        "workflows", "features", "unused_features", "guides", "help",
    ]
    assert (data["since"], data["until"], data["as_of"]) == (
        "2024-03-01T00:00:00Z", "2024-03-08T00:00:00Z", "2024-03-08T00:00:00.500000Z"
    )
    assert data["go_live"] == "2024-02-26"
    assert data["workflows"][0]["total"]["conversion"] == 2 / 3
    assert '"conversion": 0.6666666666666666' in text
    assert data["workflows"][0]["by_role"][0]["median_seconds"] is None
    assert data["workflows"][0]["total"]["steps"][1] == {
        "step": EVIL, "reached": 3, "passed": 2, "failures": 2, "stopped": 1
    }
    assert data["help"][0] == {"week": 1, "start": "2024-02-26", "requests": 3, "visitors": 2}
    assert text.endswith("}\n")


def test_render_json_stable() -> None:
    assert render_json(REPORT) == render_json(REPORT)


def test_dashboard_has_no_script_and_escapes() -> None:
    page = render_dashboard(REPORT, csv_link=lambda name: f"?table={name}&format=csv")
    assert "<script" not in page.lower()
    assert EVIL not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "clerk &amp; co" in page
    assert "clerk & co" not in page
    assert page.startswith("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
    assert page.count("<svg") == 2
    assert page.count('class="csv"') == len(TABLE_NAMES)
    assert 'href="?table=workflows&amp;format=csv"' in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)


def test_dashboard_without_csv_links() -> None:
    page = render_dashboard(REPORT)
    assert 'class="csv"' not in page


def test_funnel_svg_bars() -> None:
    svg = funnel_svg(FUNNEL.steps, "Funnel")
    assert re.findall(r'<rect class="(\w+)" x="160" y="(\d+)" width="([\d.]+)"', svg) == [
        ("reached", "8", "420"),
        ("passed", "8", "420"),
        ("reached", "38", "420"),
        ("passed", "38", "280"),
    ]
    assert "<title>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;: 3 reached, 2 passed, 2 failed attempts, 1 stopped here</title>" in svg


def test_funnel_svg_empty_runs() -> None:
    svg = funnel_svg(CLERK.steps, "Funnel")
    assert re.findall(r'width="([\d.]+)" height="22"', svg) == ["0", "0", "0", "0"]


def test_trend_svg_points() -> None:
    svg = trend_svg([("w1", 0), ("w2", 4), ("w3", 2)], "Help")
    assert re.search(r'<polyline class="line" points="([^"]+)"', svg).group(1) == "48,172 336,12 624,92"  # type: ignore[union-attr]
    assert 'aria-label="Help"' in svg


def test_trend_svg_single_point() -> None:
    svg = trend_svg([("w1", 3)], "Help")
    assert re.findall(r'<circle cx="([\d.]+)" cy="([\d.]+)"', svg) == [("48", "12")]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(0.0, "0.0s", id="zero"),
        pytest.param(59.94, "59.9s", id="under-minute"),
        pytest.param(60.0, "1m 00s", id="minute"),
        pytest.param(3599.0, "59m 59s", id="under-hour"),
        pytest.param(3600.0, "1h 00m", id="hour"),
        pytest.param(90061.0, "25h 01m", id="over-day"),
    ],
)
def test_format_seconds(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text


def test_iso_time() -> None:
    assert iso_time(0) == "1970-01-01T00:00:00Z"
    assert iso_time(0.25) == "1970-01-01T00:00:00.250000Z"
