"""Render a report as terminal tables, CSV or JSON."""

from __future__ import annotations

import csv
import dataclasses
import datetime
import io
import json
from typing import Any

from proxy.analytics.models import Report
from proxy.analytics.tables import Cell, ColumnKind, Table, report_tables


def iso_time(epoch: float) -> str:
    """Format UTC epoch seconds as ISO 8601 with a Z, to the second unless there is a fraction."""
    moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    text = moment.isoformat(timespec="seconds" if moment.microsecond == 0 else "microseconds")
    return text.replace("+00:00", "Z")


def format_seconds(seconds: float) -> str:
    """Format a duration for people: '42.5s', '12m 05s' or '3h 07m'."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(round(seconds))
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def human_cell(value: Cell, kind: ColumnKind) -> str:
    """Format a cell for the terminal and the HTML page."""
    if value is None:
        return "-"
    if kind == "ratio" and isinstance(value, (int, float)):
        return f"{value * 100:.1f}%"
    if kind == "seconds" and isinstance(value, (int, float)):
        return format_seconds(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def exact_cell(value: Cell) -> str:
    """Format a cell for CSV: exact numbers (Python's shortest round-trip form), '' for none."""
    if value is None:
        return ""
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def period_line(report: Report) -> str:
    """Return one line that states what the report covers."""
    parts = [f"app {report.app}", f"from {iso_time(report.since)} to {iso_time(report.until)}"]
    if report.role is not None:
        parts.append(f"role {report.role}")
    if report.workflow is not None:
        parts.append(f"workflow {report.workflow}")
    parts.append(f"as of {iso_time(report.as_of)}")
    return ", ".join(parts)


def render_text(report: Report) -> str:
    """Render every table as aligned plain text, numbers right-aligned."""
    out = [period_line(report), ""]
    for current in report_tables(report):
        out.append(current.title)
        out.extend(_text_table(current))
        out.append("")
    return "\n".join(out)


def _text_table(current: Table) -> list[str]:
    if not current.rows:
        return ["  (none)"]
    header = [column.key for column in current.columns]
    cells = [[human_cell(value, column.kind) for value, column in zip(row, current.columns)] for row in current.rows]
    widths = [max(len(line[index]) for line in [header, *cells]) for index in range(len(header))]
    right = [column.kind != "text" for column in current.columns]

    def line(values: list[str]) -> str:
        padded = [
            value.rjust(width) if align_right else value.ljust(width)
            for value, width, align_right in zip(values, widths, right)
        ]
        return "  " + "  ".join(padded).rstrip()

    return [line(header), "  " + "  ".join("-" * width for width in widths), *(line(row) for row in cells)]


def render_table_csv(current: Table) -> str:
    """Render one table as CSV (RFC 4180, CRLF line ends) with a header row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([column.key for column in current.columns])
    for row in current.rows:
        writer.writerow([exact_cell(value) for value in row])
    return buffer.getvalue()


def render_csv(report: Report) -> str:
    """Render every table as CSV, one after another, each after a '# name' line and a blank line
    between them; use `render_table_csv` for a single clean CSV file."""
    return "\r\n".join(f"# {current.name}\r\n{render_table_csv(current)}" for current in report_tables(report))


def report_dict(report: Report) -> dict[str, Any]:
    """The report as plain JSON values, keys in the models' field order.

    Times become ISO 8601 UTC text and dates ISO text; numbers stay exact (floats are written in
    their shortest round-trip form, never rounded).
    """
    result = _plain(report)
    assert isinstance(result, dict)
    for key in ("since", "until", "as_of"):
        result[key] = iso_time(getattr(report, key))
    return result


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def render_json(report: Report) -> str:
    """Render the report as indented JSON with a final newline."""
    return json.dumps(report_dict(report), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
