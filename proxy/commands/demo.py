"""`guidegate demo`: the bundled procurement app with Guidegate in front of it, in one process."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import logging
import os
import secrets
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proxy.config import LoggingConfig, load_config
from proxy.demo import DEMO_USERS, SESSION_COOKIE, start_demo
from proxy.errors import GuidegateError, InvalidFileError
from proxy.logsetup import configure_logging
from proxy.server import serve

logger = logging.getLogger(__name__)

DEMO_RULES = (Path(__file__).parents[1] / "bundled" / "demo-rules").resolve()
"""The demo's rule files; `guidegate demo` watches them, so edits apply while it runs.

In a source checkout proxy/bundled/demo-rules is a link to rules/demo, which this resolves to. An
installed wheel carries a copy of the files there instead.
"""

APP_NAME = "demo"
PREFIX = "/__guidegate/"
CONFIG_FILE = "config.yaml"
EVENTS_FILE = "events.sqlite3"
SECRET_FILE = "visitor-secret"

# Every demo page shows "Signed in as Carla Clerk (Purchasing clerk)" in the cell with ID whoami.
# The last word of each role title is the role's key, which the rule files name in audiences.
ROLES_REGEX = r'ID="whoami">Signed in as [^<]* \((?:Purchasing|Budget) (clerk|manager|approver)\)<'
USER_REGEX = r'ID="whoami">Signed in as ([^<]*) \((?:Purchasing|Budget) (?:clerk|manager|approver)\)<'

DEMO_LOGGING = LoggingConfig(level="info", format="text", access_log=False)
"""Start, stop and error lines on standard error, without one line per request."""


@dataclass(frozen=True)
class DemoSettings:
    """The values that the demo's configuration file is written from."""

    host: str
    port: int
    upstream: str
    rules: Path
    admin_token: str
    visitor_secret: str
    go_live: datetime.date


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `demo`."""
    parser = subparsers.add_parser(
        "demo",
        help="run the bundled procurement app with Guidegate in front of it",
        description=(
            "Start Procurement Desk, a legacy purchasing app, and Guidegate in front of it with the rules in "
            "rules/demo. Prints the URL to open, the demo logins and the dashboard link. "
            "Ctrl-C (SIGINT) or SIGTERM stops both."
        ),
    )
    parser.add_argument("--port", type=_port(1), default=8080, help="port Guidegate listens on (default: 8080)")
    parser.add_argument(
        "--app-port", type=_port(0), default=0, help="loopback port of the demo app itself (default: 0, a free port)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address Guidegate listens on (default: 127.0.0.1)")
    parser.add_argument(
        "--data",
        metavar="DIR",
        help="folder for the generated config.yaml and the event database, kept after exit "
        "(default: a temporary folder deleted on exit)",
    )
    parser.add_argument(
        "--rules",
        metavar="DIR",
        help="rule folder to serve instead of rules/demo, e.g. an empty folder to write your first rules in "
        "(created when missing)",
    )
    parser.set_defaults(handler=handle)
    assert isinstance(parser, argparse.ArgumentParser)
    return parser


def _port(lowest: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = -1
        if not lowest <= value <= 65535:
            raise argparse.ArgumentTypeError(f"invalid port '{text}'; expected a number from {lowest} to 65535")
        return value

    return parse


def handle(arguments: argparse.Namespace) -> int:
    """Run the demo until a signal stops it; return 0 after a clean stop, 1 when it cannot start."""
    rules = DEMO_RULES if arguments.rules is None else Path(arguments.rules).resolve()
    if arguments.rules is not None:
        try:
            rules.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            print(f"guidegate demo: cannot create the rule folder {rules}: {error.strerror}", file=sys.stderr)
            return 1
    arguments.rules_folder = rules
    if not rules.is_dir():
        print(
            f"guidegate demo: rule folder {rules} not found; run the demo from a source checkout "
            "(pip install -e . or make venv)",
            file=sys.stderr,
        )
        return 1
    configure_logging(DEMO_LOGGING)
    try:
        if arguments.data is None:
            with tempfile.TemporaryDirectory(prefix="guidegate-demo-") as folder:
                return _run(arguments, Path(folder), keep=False)
        data = Path(arguments.data)
        try:
            data.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as error:
            print(f"guidegate demo: cannot create the data folder {data}: {error.strerror}", file=sys.stderr)
            return 1
        return _run(arguments, data, keep=True)
    except KeyboardInterrupt:
        # Ctrl-C while starting, before the server's own signal handling was in place.
        return 0


def _run(arguments: argparse.Namespace, data: Path, *, keep: bool) -> int:
    try:
        asyncio.run(run_demo(arguments.host, arguments.port, arguments.app_port, data, keep=keep, rules=arguments.rules_folder))
    except InvalidFileError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        print("guidegate demo: not started because the generated configuration is invalid", file=sys.stderr)
        return 1
    except GuidegateError as error:
        print(f"guidegate demo: {error}", file=sys.stderr)
        return 1
    return 0


async def run_demo(host: str, port: int, app_port: int, data: Path, *, keep: bool = True, rules: Path = DEMO_RULES) -> None:
    """Start the demo app and the proxy, print how to use them, and serve until SIGINT or SIGTERM.

    Each start writes `config.yaml` into `data` with a new admin token. The event database and
    the visitor secret in `data` are kept from earlier starts. Raises GuidegateError (an
    InvalidFileError for a bad configuration) when either server cannot start, after stopping the
    demo app again.
    """
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop_requested.set)

    demo = await start_demo("127.0.0.1", app_port)
    try:
        try:
            settings = DemoSettings(
                host=host,
                port=port,
                upstream=demo.url + "/",
                rules=rules,
                admin_token=secrets.token_urlsafe(24),
                visitor_secret=visitor_secret(data),
                go_live=datetime.datetime.now(datetime.timezone.utc).date(),
            )
            config_path = write_config(data, settings)
        except OSError as error:
            raise GuidegateError(
                f"cannot write the configuration into {data}: {error.strerror}; expected a writable folder"
            ) from error
        logger.info("demo configuration written to %s", config_path)
        config = load_config(config_path, environ={})
        if stop_requested.is_set():
            logger.info("stop requested while starting; the proxy is not started")
            return
        # serve() replaces the signal handlers above with its own before it first yields.
        await serve(config, ready=lambda _addresses: print(banner(settings, demo.url, data, keep), flush=True))
    finally:
        await demo.stop()


def visitor_secret(data: Path) -> str:
    """Return the visitor-id secret stored in `data`, creating it on first use.

    A secret that stays the same across starts keeps each demo user's visitor id, so reports over
    a kept data folder count every user once. Raises OSError when the folder is not writable.
    """
    path = data / SECRET_FILE
    try:
        stored = path.read_text(encoding="ascii").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        stored = ""
    if len(stored) >= 32:
        return stored
    secret = secrets.token_hex(32)
    _write_private(path, secret + "\n")
    return secret


def write_config(data: Path, settings: DemoSettings) -> Path:
    """Write the demo's configuration file into `data` (readable by its owner only) and return its path."""
    path = data / CONFIG_FILE
    _write_private(path, config_text(settings))
    return path


def _write_private(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    os.chmod(path, 0o600)


def _quoted(value: object) -> str:
    # A JSON string is a valid YAML double-quoted scalar, whatever the path or regex contains.
    return json.dumps(str(value))


def config_text(settings: DemoSettings) -> str:
    """Return the text of the demo's configuration file."""
    return f"""# Written by `guidegate demo` at each start; changes here are overwritten on the next start.
# It contains the admin token and the visitor secret, so only its owner may read it.
listeners:
  - host: {_quoted(settings.host)}
    port: {settings.port}
prefix: {PREFIX}
mode: development
logging:
  level: {DEMO_LOGGING.level}
  format: {DEMO_LOGGING.format}
  access_log: {str(DEMO_LOGGING.access_log).lower()}
visitor:
  secret: {_quoted(settings.visitor_secret)}
admin:
  token: {_quoted(settings.admin_token)}
storage:
  backend: sqlite
  path: {EVENTS_FILE}
analytics:
  go_live: {settings.go_live.isoformat()}
apps:
  - name: {APP_NAME}
    upstream: {_quoted(settings.upstream)}
    rules: [{_quoted(settings.rules)}]
    identity:
      # Procurement Desk sends no identity headers: its pages show the user and the role title.
      sources: [page]
      page:
        session_cookie: {SESSION_COOKIE}
        roles_regex: {_quoted(ROLES_REGEX)}
        user_regex: {_quoted(USER_REGEX)}
"""


def public_base(host: str, port: int) -> str:
    """Return the URL a browser on this machine opens for a listener, without a trailing slash."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    authority = f"[{host}]" if ":" in host else host
    return f"http://{authority}:{port}"


def banner(settings: DemoSettings, app_url: str, data: Path, keep: bool) -> str:
    """Return the text printed once both servers listen: what to open and how to sign in."""
    base = public_base(settings.host, settings.port)
    width = max(len(f"{user.username} / {user.password}") for user in DEMO_USERS)
    logins = [
        f"    {f'{user.username} / {user.password}'.ljust(width)}  {user.role_title} (role {user.role.value})"
        for user in DEMO_USERS
    ]
    kept = "kept after exit" if keep else "deleted on exit; keep it with --data DIR"
    lines = [
        "",
        "Guidegate demo: Procurement Desk, a legacy purchasing app, with Guidegate in front of it.",
        "",
        f"  Open the app:    {base}/",
        "  Sign in as (user / password):",
        *logins,
        f"  Dashboard:       {base}{PREFIX}admin/?token={settings.admin_token}",
        "",
        f"  Rules:           {settings.rules} (changes apply within a second)",
        f"  Data:            {data} ({kept})",
        f"  Report:          guidegate report --config {data / CONFIG_FILE}",
        f"  App without Guidegate: {app_url}/",
        "",
        "Press Ctrl-C to stop.",
        "",
    ]
    return "\n".join(lines)
