"""Tests of the `map` source: user-to-roles files in CSV and YAML, their errors, and reloading on change."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from proxy.errors import InvalidFileError
from proxy.identity import IdentityResolver

from .helpers import TRUSTED_PEER, FakeClock

SECTION = "sources: [headers, map]\nmap: {file}"


def user_roles(resolve: IdentityResolver, user: str) -> frozenset[str]:
    return resolve.resolve(TRUSTED_PEER, {"X-Forwarded-User": user}, {}, secure=False).roles


def touch(path: Path, text: str) -> None:
    """Rewrite a file and move its modification time on by a second, so the next check detects a change."""
    previous = path.stat().st_mtime_ns
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(previous + 1_000_000_000, previous + 1_000_000_000))


@pytest.mark.parametrize(
    ("file", "text", "expected"),
    [
        pytest.param(
            "roles.csv",
            "user,roles\nalice,buyer;approver\n# former staff\n\nbob, clerk ; \n\"smith, j\",clerk\n",
            {"alice": {"buyer", "approver"}, "bob": {"clerk"}, "smith, j": {"clerk"}, "carol": set()},
            id="csv",
        ),
        pytest.param(
            "roles.yaml",
            "alice: [buyer, approver]\nbob: clerk\n",
            {"alice": {"buyer", "approver"}, "bob": {"clerk"}, "carol": set()},
            id="yaml",
        ),
        pytest.param("roles.yml", "", {"alice": set()}, id="yaml-empty"),
    ],
)
def test_map_roles(
    resolver: Callable[..., IdentityResolver],
    tmp_path: Path,
    file: str,
    text: str,
    expected: dict[str, set[str]],
) -> None:
    (tmp_path / file).write_text(text, encoding="utf-8")
    resolve = resolver(SECTION.format(file=file))
    for user, roles in expected.items():
        assert user_roles(resolve, user) == frozenset(roles), user


def test_map_lowercase_users(resolver: Callable[..., IdentityResolver], tmp_path: Path) -> None:
    (tmp_path / "roles.csv").write_text("Alice,buyer\n", encoding="utf-8")
    resolve = resolver(SECTION.format(file="roles.csv") + "\nlowercase_user: true")
    identity = resolve.resolve(TRUSTED_PEER, {"X-Forwarded-User": "ALICE"}, {}, secure=False)
    assert identity.user == "alice"
    assert identity.roles == frozenset({"buyer"})


@pytest.mark.parametrize(
    ("file", "text", "messages"),
    [
        pytest.param(
            "roles.csv",
            "alice,buyer,extra\nbob\n",
            ["1:1: 3 columns; expected 2: user,role1;role2", "2:1: 1 columns; expected 2: user,role1;role2"],
            id="csv-columns",
        ),
        pytest.param(
            "roles.csv",
            "alice,buyer\n,clerk\nalice,clerk\n",
            [
                "2:1: empty user name; expected a user name before the roles",
                "3:1: user 'alice' is listed again (first on line 1); expected each user once",
            ],
            id="csv-users",
        ),
        pytest.param(
            "roles.csv",
            "alice,buy\ter\n",
            [
                "1:1: invalid role 'buy\ter' for user 'alice'; expected a role name of 1 to 128 characters "
                "without control characters or surrounding spaces"
            ],
            id="csv-role",
        ),
        pytest.param(
            "roles.yaml",
            "alice: {role: buyer}\nalice: [clerk]\n",
            [
                "1:8: invalid value for 'alice[0]': a mapping; expected text",
                "2:1: duplicate key 'alice' in the document; expected each key once",
            ],
            id="yaml",
        ),
    ],
)
def test_map_errors(
    resolver: Callable[..., IdentityResolver], tmp_path: Path, file: str, text: str, messages: list[str]
) -> None:
    path = tmp_path / file
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidFileError) as caught:
        resolver(SECTION.format(file=file))
    assert [str(problem) for problem in caught.value.problems] == [f"{path}:{message}" for message in messages]


def test_map_reload(
    resolver: Callable[..., IdentityResolver], tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "roles.csv"
    path.write_text("alice,buyer\n", encoding="utf-8")
    resolve = resolver(SECTION.format(file="roles.csv"))
    assert user_roles(resolve, "alice") == frozenset({"buyer"})

    touch(path, "alice,approver\n")
    clock.advance(0.5)
    assert user_roles(resolve, "alice") == frozenset({"buyer"}), "checked at most once per second"
    clock.advance(0.5)
    assert user_roles(resolve, "alice") == frozenset({"approver"})

    touch(path, "alice,approver,extra\n")
    clock.advance(1.0)
    with caplog.at_level(logging.WARNING, logger="proxy.identity"):
        assert user_roles(resolve, "alice") == frozenset({"approver"}), "a broken file keeps the last good one"
        clock.advance(1.0)
        assert user_roles(resolve, "alice") == frozenset({"approver"})
    assert caplog.messages == [
        f"app erp: map source: {path} not reloaded, keeping the previous version: "
        f"{path}:1:1: 3 columns; expected 2: user,role1;role2"
    ]

    touch(path, "alice,clerk\n")
    clock.advance(1.0)
    assert user_roles(resolve, "alice") == frozenset({"clerk"})


def test_map_deleted_keeps_roles(resolver: Callable[..., IdentityResolver], tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "roles.csv"
    path.write_text("alice,buyer\n", encoding="utf-8")
    resolve = resolver(SECTION.format(file="roles.csv"))
    path.unlink()
    clock.advance(1.0)
    assert user_roles(resolve, "alice") == frozenset({"buyer"})


def test_map_reload_files(resolver: Callable[..., IdentityResolver], tmp_path: Path) -> None:
    path = tmp_path / "roles.csv"
    path.write_text("alice,buyer\n", encoding="utf-8")
    resolve = resolver(SECTION.format(file="roles.csv"))
    touch(path, "alice,clerk\n")
    resolve.reload_files()
    assert user_roles(resolve, "alice") == frozenset({"clerk"})
