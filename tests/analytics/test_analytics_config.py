"""Tests of the analytics configuration section: the go-live date and the default report period."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from proxy.config.analytics import AnalyticsConfig, parse_date
from proxy.errors import InvalidFileError
from proxy.yamlbind import json_schema, load_file


def load(tmp_path: Path, text: str) -> AnalyticsConfig:
    path = tmp_path / "analytics.yaml"
    path.write_text(text, encoding="utf-8")
    return load_file(path, AnalyticsConfig, display="analytics.yaml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("{}", AnalyticsConfig(None, 30), id="defaults"),
        pytest.param("go_live: 2024-03-01", AnalyticsConfig(datetime.date(2024, 3, 1), 30), id="yaml-date"),
        pytest.param("go_live: '2024-03-01'\nreport_days: 7", AnalyticsConfig(datetime.date(2024, 3, 1), 7), id="quoted"),
        pytest.param("go_live: null", AnalyticsConfig(None, 30), id="null"),
    ],
)
def test_analytics_config_binds(tmp_path: Path, text: str, expected: AnalyticsConfig) -> None:
    assert load(tmp_path, text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "go_live: 2024-03-01 10:00:00",
            "analytics.yaml:1:10: invalid value 2024-03-01 10:00:00 for 'go_live'; "
            "expected a date without a time, such as 2024-03-01",
            id="datetime",
        ),
        pytest.param(
            "go_live: March",
            "analytics.yaml:1:10: invalid value 'March' for 'go_live'; expected a date such as 2024-03-01",
            id="text",
        ),
        pytest.param(
            "report_days: 0",
            "analytics.yaml:1:14: invalid value 0 for 'report_days'; expected a number from 1 to 3660",
            id="days-zero",
        ),
    ],
)
def test_analytics_config_rejects(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InvalidFileError) as caught:
        load(tmp_path, text)
    assert str(caught.value) == message


def test_parse_date_values() -> None:
    assert parse_date(None) is None
    assert parse_date(" 2024-03-01 ") == datetime.date(2024, 3, 1)


def test_analytics_config_schema() -> None:
    schema = json_schema(AnalyticsConfig)
    assert schema["$defs"]["AnalyticsConfig"]["properties"]["go_live"]["anyOf"] == [
        {"type": "string", "format": "date"},
        {"type": "null"},
    ]
