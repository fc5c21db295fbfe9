"""The adoption dashboard as one self-contained HTML page: tables, inline SVG charts, no script."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from proxy.analytics.charts import funnel_svg, trend_svg
from proxy.analytics.models import Funnel, Report, WorkflowReport
from proxy.analytics.render import format_seconds, human_cell, period_line
from proxy.analytics.tables import Table, report_tables

CsvLink = Callable[[str], str]
"""Returns the URL of a table's CSV download, given the table name."""

STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1100px;
padding:1.5rem;color:#1b1f24;background:#fff}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.2rem;margin:2rem 0 .5rem;border-bottom:1px solid #d0d7de}
h3{font-size:1rem;margin:1.25rem 0 .4rem}.period{color:#57606a;margin:0 0 1rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-variant-numeric:tabular-nums}
th,td{padding:.25rem .6rem;border-bottom:1px solid #d8dee4;text-align:right}
th{background:#f6f8fa;font-weight:600}th.text,td.text{text-align:left}
caption{text-align:left;font-weight:600;padding:.25rem 0}
.figures{display:flex;flex-wrap:wrap;gap:.75rem;margin:.5rem 0;padding:0;list-style:none}
.figures li{border:1px solid #d0d7de;border-radius:6px;padding:.4rem .8rem;min-width:7rem}
.figures b{display:block;font-size:1.3rem}
svg text{font-size:12px;fill:#1b1f24}svg .reached{fill:#b6d4fe}svg .passed{fill:#0a58ca}
svg .axis{stroke:#8c959f}svg .line{fill:none;stroke:#0a58ca;stroke-width:2}svg circle{fill:#0a58ca}
a.csv{font-size:.85rem;font-weight:400;margin-left:.5rem}.none{color:#57606a}.scroll{overflow-x:auto}
"""


def render_dashboard(report: Report, csv_link: CsvLink | None = None) -> str:
    """Render the whole dashboard page; `csv_link`, when given, adds a CSV link to every table.

    Every text from the report is escaped, and the page loads nothing: styles are inline, charts
    are inline SVG, and there is no script.
    """
    tables = {current.name: current for current in report_tables(report)}
    title = f"Adoption report: {report.app}"
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="period">{escape(period_line(report))}</p>',
        _figures([("active visitors", str(report.active_visitors))]),
        _table(tables["roles"], csv_link),
        "<h2>Workflows</h2>",
    ]
    if not report.workflows:
        body.append('<p class="none">No workflow is defined for this app.</p>')
    for workflow in report.workflows:
        body.append(_workflow(workflow))
    body.append(_table(tables["workflows"], csv_link))
    body.append(_table(tables["steps"], csv_link))
    body.append("<h2>Features</h2>")
    body.append(_table(tables["features"], csv_link))
    body.append(_table(tables["unused_features"], csv_link))
    body.append("<h2>Guides</h2>")
    body.append(_table(tables["guides"], csv_link))
    body.append(_table(tables["guide_effect"], csv_link))
    body.append("<h2>Help requests per week</h2>")
    if report.help:
        points = [(week.start.isoformat(), week.requests) for week in report.help]
        body.append(trend_svg(points, "Help requests per week"))
    body.append(_table(tables["help"], csv_link))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n"
        "<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def _figures(items: Sequence[tuple[str, str]]) -> str:
    cells = "".join(f"<li><b>{escape(value)}</b>{escape(name)}</li>" for name, value in items)
    return f'<ul class="figures">{cells}</ul>'


def _workflow(workflow: WorkflowReport) -> str:
    total = workflow.total
    heading = f"{workflow.title} ({workflow.id})" if workflow.title != workflow.id else workflow.id
    parts = [
        f"<h3>{escape(heading)}</h3>",
        _figures(_funnel_figures(total)),
        funnel_svg(total.steps, f"Funnel of {heading}: runs that reached and passed each step"),
    ]
    return "\n".join(parts)


def _funnel_figures(funnel: Funnel) -> list[tuple[str, str]]:
    return [
        ("started", str(funnel.started)),
        ("completed", str(funnel.completed)),
        ("conversion", human_cell(funnel.conversion, "ratio")),
        ("median time", format_seconds(funnel.median_seconds) if funnel.median_seconds is not None else "-"),
        ("90th percentile", format_seconds(funnel.p90_seconds) if funnel.p90_seconds is not None else "-"),
        ("still open", str(funnel.open)),
    ]


def _table(current: Table, csv_link: CsvLink | None) -> str:
    link = f' <a class="csv" href="{escape(csv_link(current.name))}">CSV</a>' if csv_link else ""
    caption = f"<caption>{escape(current.title)}{link}</caption>"
    if not current.rows:
        return f'<table>{caption}<tbody><tr><td class="text none">none</td></tr></tbody></table>'
    header = "".join(
        f'<th scope="col" class="{"text" if column.kind == "text" else "number"}">{escape(column.key)}</th>'
        for column in current.columns
    )
    rows = []
    for row in current.rows:
        cells = "".join(
            f'<td class="{"text" if column.kind == "text" else "number"}">{escape(human_cell(value, column.kind))}</td>'
            for value, column in zip(row, current.columns)
        )
        rows.append(f"<tr>{cells}</tr>")
    return f'<div class="scroll"><table>{caption}<thead><tr>{header}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
