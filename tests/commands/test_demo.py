"""`guidegate demo` in parts: the generated configuration, the role learning it sets up, its options and failures."""

from __future__ import annotations

import datetime
import logging
import socket
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import free_port
from proxy.cli import main
from proxy.commands import demo
from proxy.config import load_config
from proxy.config.identity import PageSourceConfig
from proxy.demo import DEMO_USERS, DemoUser
from proxy.demo.markup import document
from proxy.demo.order_pages import vendor_list_page
from proxy.demo.pages import frameset_page, home_page
from proxy.identity.page import PageReader

SETTINGS = demo.DemoSettings(
    host="127.0.0.1",
    port=8080,
    upstream="http://127.0.0.1:41234/",
    rules=Path("/srv/guidegate rules/demo"),
    admin_token="token-with-'quote\"",
    visitor_secret="s" * 64,
    go_live=datetime.date(2026, 3, 2),
)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put back the root logger's handlers and level that the demo command replaces."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def reader() -> PageReader:
    return PageReader(
        PageSourceConfig(session_cookie="DEMOSESSION", roles_regex=demo.ROLES_REGEX, user_regex=demo.USER_REGEX)
    )


@pytest.mark.parametrize("user", [pytest.param(user, id=user.username) for user in DEMO_USERS])
@pytest.mark.parametrize(
    ("page", "charset"),
    [
        pytest.param(lambda user: frameset_page(user, "/home"), "utf-8", id="frameset"),
        pytest.param(lambda user: home_page(user, []), "utf-8", id="home"),
        pytest.param(lambda user: vendor_list_page(user, []), "windows-1252", id="vendor-list"),
    ],
)
def test_page_shows_role(user: DemoUser, page: Callable[[DemoUser], str], charset: str) -> None:
    found = reader().read(page(user).encode(charset), charset)

    assert found == (user.full_name, [user.role.value])


def test_signed_out_page_shows_nothing() -> None:
    assert reader().read(document("Sign in", None, "").encode(), "utf-8") == (None, [])


def test_config_loads(tmp_path: Path) -> None:
    path = demo.write_config(tmp_path, SETTINGS)

    config = load_config(path, environ={})

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [(listener.host, listener.port) for listener in config.listeners] == [("127.0.0.1", 8080)]
    assert config.admin.token == SETTINGS.admin_token
    assert config.visitor.secret == SETTINGS.visitor_secret
    assert config.analytics.go_live == datetime.date(2026, 3, 2)
    assert config.resolve(config.storage.path) == tmp_path / "events.sqlite3"
    assert config.logging.access_log is False
    app = config.apps[0]
    assert (app.name, app.upstream, app.rules) == ("demo", "http://127.0.0.1:41234/", ("/srv/guidegate rules/demo",))
    assert app.identity.sources == ("page",)
    assert app.identity.page is not None
    assert app.identity.page.session_cookie == "DEMOSESSION"
    assert app.identity.page.roles_regex == demo.ROLES_REGEX
    assert app.identity.page.user_regex == demo.USER_REGEX


def test_visitor_secret_kept(tmp_path: Path) -> None:
    first = demo.visitor_secret(tmp_path)

    assert len(first) == 64
    assert stat.S_IMODE((tmp_path / "visitor-secret").stat().st_mode) == 0o600
    assert demo.visitor_secret(tmp_path) == first


def test_short_secret_replaced(tmp_path: Path) -> None:
    (tmp_path / "visitor-secret").write_text("too short\n", encoding="ascii")

    secret = demo.visitor_secret(tmp_path)

    assert len(secret) == 64
    assert (tmp_path / "visitor-secret").read_text(encoding="ascii") == secret + "\n"


@pytest.mark.parametrize(
    ("host", "url"),
    [
        pytest.param("127.0.0.1", "http://127.0.0.1:8080", id="loopback"),
        pytest.param("0.0.0.0", "http://127.0.0.1:8080", id="any-ipv4"),
        pytest.param("::", "http://[::1]:8080", id="any-ipv6"),
        pytest.param("::1", "http://[::1]:8080", id="ipv6-loopback"),
        pytest.param("localhost", "http://localhost:8080", id="name"),
    ],
)
def test_public_base(host: str, url: str) -> None:
    assert demo.public_base(host, 8080) == url


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param(["--port", "0"], "argument --port: invalid port '0'; expected a number from 1 to 65535", id="port-zero"),
        pytest.param(["--port", "65536"], "argument --port: invalid port '65536'; expected a number from 1 to 65535", id="port-high"),
        pytest.param(["--port", "web"], "argument --port: invalid port 'web'; expected a number from 1 to 65535", id="port-text"),
        pytest.param(["--app-port", "-1"], "argument --app-port: invalid port '-1'; expected a number from 0 to 65535", id="app-port"),
    ],
)
def test_invalid_port(arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["demo", *arguments])

    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"guidegate demo: error: {message}"


def test_missing_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    monkeypatch.setattr(demo, "DEMO_RULES", tmp_path / "rules" / "demo")

    assert main(["demo", "--data", str(tmp_path / "data")]) == 1

    assert capsys.readouterr().err == (
        f"guidegate demo: rule folder {tmp_path / 'rules' / 'demo'} not found; run the demo from a source checkout "
        "(pip install -e . or make venv)\n"
    )


def test_data_folder_blocked(tmp_path: Path, capsys: pytest.CaptureFixture[str], restore_logging: None) -> None:
    (tmp_path / "file").write_text("", encoding="utf-8")

    assert main(["demo", "--data", str(tmp_path / "file" / "data")]) == 1

    assert capsys.readouterr().err == f"guidegate demo: cannot create the data folder {tmp_path / 'file' / 'data'}: Not a directory\n"


@pytest.mark.parametrize(
    ("option", "message"),
    [
        pytest.param(
            "--port",
            "guidegate demo: cannot listen on 127.0.0.1:{port}: Address already in use; "
            "expected a free port on an address of this machine",
            id="proxy-port",
        ),
        pytest.param(
            "--app-port",
            "guidegate demo: The demo app could not listen on 127.0.0.1:{port}: Address already in use. "
            "Choose another port, or 0 for a free one.",
            id="app-port",
        ),
    ],
)
def test_port_in_use(
    tmp_path: Path, option: str, message: str, capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        ports = {"--port": str(free_port()), "--app-port": "0", option: str(port)}
        arguments = [word for name, value in ports.items() for word in (name, value)]

        assert main(["demo", *arguments, "--data", str(tmp_path)]) == 1

    assert capsys.readouterr().err.splitlines()[-1] == message.format(port=port)


def test_repository_config_matches() -> None:
    config = load_config(Path(__file__).resolve().parents[2] / "config.yaml", environ={})

    page = config.apps[0].identity.page
    assert page is not None
    assert (page.session_cookie, page.roles_regex, page.user_regex) == ("DEMOSESSION", demo.ROLES_REGEX, demo.USER_REGEX)
    assert config.resolve(config.apps[0].rules[0]) == demo.DEMO_RULES


def test_rules_folder_blocked(tmp_path: Path, capsys: pytest.CaptureFixture[str], restore_logging: None) -> None:
    (tmp_path / "file").write_text("", encoding="utf-8")

    assert main(["demo", "--rules", str(tmp_path / "file" / "rules"), "--data", str(tmp_path / "data")]) == 1

    assert capsys.readouterr().err == f"guidegate demo: cannot create the rule folder {tmp_path / 'file' / 'rules'}: Not a directory\n"


def test_own_rules_folder_served(tmp_path: Path, capsys: pytest.CaptureFixture[str], restore_logging: None) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        # The proxy port is taken, so the demo stops right after writing its configuration.
        assert main(["demo", "--port", str(port), "--rules", str(tmp_path / "mine"), "--data", str(tmp_path / "data")]) == 1

    assert (tmp_path / "mine").is_dir()
    config = load_config(tmp_path / "data" / "config.yaml", environ={})
    assert config.apps[0].rules == (str((tmp_path / "mine").resolve()),)
