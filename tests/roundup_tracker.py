"""A Roundup issue tracker to put behind Guidegate: created in a folder, served over WSGI on loopback.

Roundup (https://www.roundup-tracker.org, the `roundup` package on PyPI) is a real third-party
web application: server-side HTML forms, single-use CSRF tokens, compressed pages, and checks of
the Origin, Referer and X-Forwarded-Host (or Host) headers against its configured `web` URL.
tests/test_roundup.py drives it through Guidegate in Chromium. To try it by hand, run

    .venv/bin/python tests/roundup_tracker.py --proxy-url http://127.0.0.1:8080/ --port 8081

then start Guidegate with an app whose upstream is http://127.0.0.1:8081/ and `host_header:
client` (docs/examples-roundup.md has the whole configuration), and open http://127.0.0.1:8080/.

The tracker uses the `classic` template and the `sqlite` backend. Its users:

| user  | password | Roundup roles   | what they do |
| ----- | -------- | --------------- | ------------ |
| admin | admin    | Admin           | the tracker's administrator |
| alice | alice    | User            | reports issues (classic's role for every registered user) |
| dave  | dave     | User, Developer | triages issues; `Developer` is a role this module adds to the schema |

`roundup-server` refuses to run as root, and tests and CI run as root, so this module serves the
tracker with Roundup's WSGI handler (`roundup.cgi.wsgi_handler.RequestDispatcher`) in a
`wsgiref` server that handles each request in its own thread.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import socketserver
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

logger = logging.getLogger(__name__)

TEMPLATE = "classic"
BACKEND = "sqlite"
TRACKER_NAME = "Roundup issue tracker"
SESSION_COOKIE = "roundup_session_Roundupissuetracker"
"""Roundup's session cookie over plain HTTP: 'roundup_session_' and the tracker name's letters."""

PASSWORD_ROUNDS = 1000
"""PBKDF2 rounds for stored passwords: Roundup's minimum, so that logins in tests take milliseconds."""

READY_PREFIX = "READY "
"""Start of the line the script prints once it serves, followed by the tracker's own URL."""

DEVELOPER_ROLE = '''

# Added for Guidegate's tests: a User who also maintains the lists of priorities and statuses.
db.security.addRole(name="Developer", description="A developer: triages issues and keeps the priority and status lists")
for cl in "priority", "status":
    db.security.addPermissionToRole("Developer", "Create", cl)
    db.security.addPermissionToRole("Developer", "Edit", cl)
'''


@dataclass(frozen=True)
class TrackerUser:
    """A user account created in the tracker."""

    username: str
    password: str
    roles: str
    """Roundup roles, comma-separated as Roundup stores them."""


ADMIN = TrackerUser("admin", "admin", "Admin")
ALICE = TrackerUser("alice", "alice", "User")
DAVE = TrackerUser("dave", "dave", "User,Developer")
USERS = (ALICE, DAVE)
"""The users created besides the administrator."""


def create_tracker(home: Path, web_url: str) -> None:
    """Install a classic sqlite tracker in `home` (which must not exist yet or be empty) and create its users.

    `web_url` is the public URL of the tracker, which is the proxy's: Roundup builds links and
    redirects from it and rejects form posts whose Origin, Referer or forwarded host do not match it.
    """
    from roundup import configuration, init, instance, password  # type: ignore[import-untyped]
    from roundup.admin import AdminTool  # type: ignore[import-untyped]

    if not web_url.endswith("/"):
        raise ValueError(f"web URL '{web_url}' does not end with '/'; Roundup expects a URL such as 'http://127.0.0.1:8080/'")
    templates: dict[str, dict[str, str]] = AdminTool().listTemplates()
    if TEMPLATE not in templates:
        raise RuntimeError(f"Roundup template '{TEMPLATE}' not found; found: {', '.join(sorted(templates))}")
    init.install(str(home), templates[TEMPLATE]["path"])

    # Without the nosy detector no message tries to reach a mail server.
    for detector in (home / "detectors").glob("nosyreaction.py*"):
        detector.unlink()
    with (home / "schema.py").open("a", encoding="utf-8") as schema:
        schema.write(DEVELOPER_ROLE)

    config = configuration.CoreConfig(str(home))
    config["TRACKER_NAME"] = TRACKER_NAME
    config["TRACKER_WEB"] = web_url
    config["RDBMS_BACKEND"] = BACKEND
    config["MAIL_DOMAIN"] = "localhost"
    config["PASSWORD_PBKDF2_DEFAULT_ROUNDS"] = PASSWORD_ROUNDS
    config.save()

    tracker = instance.open(str(home))
    tracker.init(password.Password(ADMIN.password, config=config))
    db = tracker.open("admin")
    try:
        for user in USERS:
            db.user.create(
                username=user.username, password=password.Password(user.password, config=db.config), roles=user.roles
            )
        db.commit()
    finally:
        db.close()
    logger.info("created tracker in %s for %s", home, web_url)


def set_web_url(home: Path, web_url: str) -> None:
    """Point an existing tracker's `web` setting at `web_url`."""
    from roundup import configuration

    config = configuration.CoreConfig(str(home))
    config["TRACKER_WEB"] = web_url
    config.save()


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the name the base class uses
        logger.debug("%s %s", self.address_string(), format % args)


def serve_tracker(home: Path, host: str = "127.0.0.1", port: int = 0) -> WSGIServer:
    """Return a bound, not yet running WSGI server for the tracker in `home`; call its serve_forever()."""
    from roundup.cgi.wsgi_handler import RequestDispatcher  # type: ignore[import-untyped]

    dispatcher = RequestDispatcher(str(home))
    return make_server(host, port, dispatcher, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)


def main(argv: Sequence[str] | None = None) -> int:
    """Create (or reuse) a tracker, serve it until interrupted, and print its URL as 'READY <url>'."""
    parser = argparse.ArgumentParser(description="Serve a Roundup tracker on loopback for trying Guidegate in front of it.")
    parser.add_argument("--proxy-url", required=True, help="public URL of the proxy, e.g. http://127.0.0.1:8080/")
    parser.add_argument("--port", type=int, default=8081, help="loopback port of the tracker; 0 picks a free one (default 8081)")
    parser.add_argument(
        "--home", type=Path, help="tracker folder; created when missing, reused when it contains a tracker (default: a temporary folder)"
    )
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # SIGTERM (from a test that is done with the tracker) stops it like Ctrl-C, with the clean-up below.
    signal.signal(signal.SIGTERM, signal.default_int_handler)

    web_url = arguments.proxy_url if arguments.proxy_url.endswith("/") else arguments.proxy_url + "/"
    temporary = arguments.home is None
    home: Path = Path(tempfile.mkdtemp(prefix="roundup-tracker-")) if temporary else arguments.home
    try:
        if (home / "config.ini").exists():
            set_web_url(home, web_url)
        else:
            create_tracker(home, web_url)
        server = serve_tracker(home, "127.0.0.1", arguments.port)
        address = f"http://127.0.0.1:{server.server_address[1]}/"
        logger.info("serving tracker %s at %s for web URL %s", home, address, web_url)
        print(f"{READY_PREFIX}{address}", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            logger.info("stopping tracker at %s", address)
        finally:
            server.server_close()
    finally:
        if temporary:
            shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
