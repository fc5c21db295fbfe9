"""`guidegate report`: print an app's adoption report as a table, CSV or JSON, from the event store."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import sys
from pathlib import Path
from typing import Any, TextIO

from proxy.analytics.models import Report
from proxy.analytics.render import render_csv, render_json, render_table_csv, render_text
from proxy.analytics.reports import DAY, ReportQuery, build_report, day_start
from proxy.analytics.specs import Specs, SpecsLoader, load_specs
from proxy.analytics.tables import TABLE_NAMES, table
from proxy.config import App, Config, load_config
from proxy.errors import GuidegateError, InvalidFileError
from proxy.events import SqliteStore, create_store


def parse_day(text: str) -> datetime.date:
    """argparse type of --since and --until: a date written YYYY-MM-DD."""
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid date '{text}'; expected YYYY-MM-DD such as 2024-03-01") from None


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `report`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "report",
        help="print an app's adoption report (funnels, features, guides, help) from the event store",
        description="Print an app's adoption report from the event store. Days are UTC.",
    )
    parser.add_argument("--config", default="config.yaml", help="configuration file (default: config.yaml)")
    parser.add_argument("--app", help="app name (default: the only app in the configuration)")
    parser.add_argument("--since", type=parse_day, help="first day of the period (default: --until minus analytics.report_days)")
    parser.add_argument("--until", type=parse_day, help="last day of the period, included (default: today)")
    parser.add_argument("--role", help="only visitors with this role")
    parser.add_argument("--workflow", help="only this workflow's funnel and guide effect")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output format (default: table)")
    parser.add_argument("--table", choices=TABLE_NAMES, help="with --format csv, print only this table as plain CSV")
    parser.set_defaults(handler=handle)
    return parser


def handle(arguments: argparse.Namespace) -> int:
    """Run the command with the specs from the app's rules."""
    return run(arguments, load_specs)


def run(
    arguments: argparse.Namespace,
    loader: SpecsLoader,
    *,
    today: datetime.date | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Load the configuration and specs, build the report and print it; return the exit code.

    The code is 1 when the configuration, the rules or the store fail, and 2 for invalid arguments.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        config = load_config(arguments.config)
    except InvalidFileError as error:
        for problem in error.problems:
            print(problem, file=err)
        return 1
    app = _choose_app(config, arguments.app, err)
    if app is None:
        return 2
    analytics = config.analytics
    until_day = arguments.until or today or datetime.datetime.now(datetime.timezone.utc).date()
    since_day = arguments.since or until_day - datetime.timedelta(days=analytics.report_days - 1)
    if since_day > until_day:
        print(f"--since {since_day} is after --until {until_day}; expected since <= until", file=err)
        return 2
    if arguments.table and arguments.format != "csv":
        print("--table works with --format csv only", file=err)
        return 2
    try:
        specs = loader(config, app)
    except InvalidFileError as error:
        for problem in error.problems:
            print(problem, file=err)
        return 1
    query = ReportQuery(
        app=app.name,
        since=day_start(since_day),
        until=day_start(until_day) + DAY,
        role=arguments.role,
        workflow=arguments.workflow,
        go_live=analytics.go_live,
    )
    try:
        report = asyncio.run(_report(config, specs, query))
    except GuidegateError as error:
        print(f"report failed: {error}", file=err)
        return 1
    if arguments.format == "json":
        out.write(render_json(report))
    elif arguments.format == "csv":
        out.write(render_table_csv(table(report, arguments.table)) if arguments.table else render_csv(report))
    else:
        out.write(render_text(report))
    return 0


def _choose_app(config: Config, name: str | None, err: TextIO) -> App | None:
    names = ", ".join(app.name for app in config.apps)
    if name is None:
        if len(config.apps) == 1:
            return config.apps[0]
        print(f"the configuration has several apps ({names}); choose one with --app", file=err)
        return None
    for app in config.apps:
        if app.name == name:
            return app
    print(f"unknown app '{name}'; expected one of: {names}", file=err)
    return None


async def _report(config: Config, specs: Specs, query: ReportQuery) -> Report:
    store = create_store(config.storage, config.base_dir)
    if isinstance(store, SqliteStore) and not Path(store.path).exists():
        raise GuidegateError(
            f"no event database at {store.path}; expected the file the proxy writes (storage.path in {config.source})"
        )
    await store.open()
    try:
        return await build_report(store, specs, query)
    finally:
        await store.close()
