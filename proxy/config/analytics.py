"""Configuration of the adoption reports: the go-live date and the default report period."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from proxy.yamlbind import setting


def parse_date(value: Any) -> datetime.date | None:
    """Parse a calendar date written as 2024-03-01 (YAML reads it as a date) or as that text."""
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        raise ValueError("expected a date without a time, such as 2024-03-01")
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError("expected a date such as 2024-03-01")


@dataclass(frozen=True)
class AnalyticsConfig:
    """Settings of the adoption reports."""

    go_live: datetime.date | None = setting(
        None,
        parse=parse_date,
        schema={"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]},
        help="day (UTC) the app went live behind Guidegate, e.g. 2024-03-01; help requests are counted "
        "per week from it",
    )
    report_days: int = setting(30, minimum=1, maximum=3660, help="length in days of the default report period")
