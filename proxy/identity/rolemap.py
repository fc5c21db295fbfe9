"""The `map` source: a CSV or YAML file that maps user names to roles."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

from proxy.config.identity import parse_role
from proxy.errors import InvalidFileError, Problem
from proxy.yamlbind import BindContext, bind, compose, read_text

MAX_MAP_BYTES = 16 * 1024 * 1024
"""Largest map file read; about 300,000 lines of 50 bytes."""

RoleMap = dict[str, tuple[str, ...]]


def load_role_map(path: Path, file_format: str, normalize: Callable[[str], str]) -> RoleMap:
    """Read a map file into {normalized user name: roles}; raise InvalidFileError listing every problem.

    CSV lines are `user,role1;role2`; blank lines, lines starting with '#' and a first line
    `user,roles` are skipped. YAML is a mapping of user name to a role or a list of roles. A user
    listed twice (after normalizing) is an error, because which line wins would be a guess.
    """
    display = str(path)
    text = read_text(path, display, MAX_MAP_BYTES)
    if file_format == "csv":
        entries = _parse_csv(text, display)
    else:
        entries = _parse_yaml(text, display)

    problems: list[Problem] = []
    result: RoleMap = {}
    first_line: dict[str, int] = {}
    for line, user, roles in entries:
        key = normalize(user.strip())
        if not key:
            problems.append(Problem(display, line, 1, "empty user name; expected a user name before the roles"))
            continue
        if key in result:
            problems.append(
                Problem(
                    display,
                    line,
                    1,
                    f"user '{user}' is listed again (first on line {first_line[key]}); expected each user once",
                )
            )
            continue
        checked: list[str] = []
        for role in roles:
            try:
                checked.append(parse_role(role))
            except ValueError as error:
                problems.append(Problem(display, line, 1, f"invalid role '{role}' for user '{user}'; {error}"))
        result[key] = tuple(dict.fromkeys(checked))
        first_line[key] = line
    if problems:
        raise InvalidFileError(problems)
    return result


def _parse_csv(text: str, display: str) -> list[tuple[int, str, list[str]]]:
    entries: list[tuple[int, str, list[str]]] = []
    problems: list[Problem] = []
    reader = csv.reader(io.StringIO(text))
    try:
        for row in reader:
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
                continue
            if line == 1 and [cell.strip().lower() for cell in row] == ["user", "roles"]:
                continue
            if len(row) != 2:
                problems.append(
                    Problem(display, line, 1, f"{len(row)} columns; expected 2: user,role1;role2")
                )
                continue
            roles = [role.strip() for role in row[1].split(";") if role.strip()]
            entries.append((line, row[0], roles))
    except csv.Error as error:
        problems.append(Problem(display, reader.line_num or 1, 1, f"invalid CSV: {error}"))
    if problems:
        raise InvalidFileError(problems)
    return entries


def _parse_yaml(text: str, display: str) -> list[tuple[int, str, list[str]]]:
    node = compose(text, display)
    context = BindContext(display)
    mapping = bind(node, dict[str, tuple[str, ...]], context)
    lines: dict[str, int] = {}
    if node is not None and hasattr(node, "value") and isinstance(node.value, list):
        for key_node, _ in node.value:
            lines.setdefault(str(key_node.value), key_node.start_mark.line + 1)
    return [(lines.get(user, 1), user, list(roles)) for user, roles in mapping.items()]
