"""config.yaml into frozen dataclasses, with every problem reported as file:line:column."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import yaml

from proxy.config.model import App, Config, Listener, LoggingConfig, Timeouts, TLSConfig
from proxy.errors import ConfigError, InvalidFileError, Problem
from proxy.yamlbind import BindContext, bind, compose, read_text

__all__ = ["App", "Config", "ConfigError", "Listener", "LoggingConfig", "Timeouts", "TLSConfig", "load_config"]


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> Config:
    """Load and validate a config file; raise ConfigError listing every problem found."""
    file = Path(path)
    display = str(path)
    try:
        text = read_text(file, display)
        node = compose(text, display)
        context = BindContext(display, interpolate_env=True, environ=dict(os.environ) if environ is None else environ)
        config = bind(node, Config, context)
    except InvalidFileError as error:
        raise ConfigError(error.problems) from None
    problems = _check(config, node, display)
    if problems:
        raise ConfigError(problems)
    object.__setattr__(config, "base_dir", file.resolve().parent)
    object.__setattr__(config, "source", display)
    return config


def _check(config: Config, root: yaml.Node | None, display: str) -> list[Problem]:
    """Cross-field checks that one field alone cannot make."""
    problems: list[Problem] = []

    def at(path: list[str | int], message: str) -> None:
        node = locate(root, path)
        mark = node.start_mark if node is not None else None
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problems.append(Problem(display, line, column, message))

    if not config.apps:
        at(["apps"], "no apps configured; expected at least one app with a name and an upstream")
    names: set[str] = set()
    routes: dict[tuple[str, str], str] = {}
    for index, app in enumerate(config.apps):
        if app.name in names:
            at(["apps", index, "name"], f"duplicate app name '{app.name}'; expected each app name once")
        names.add(app.name)
        for host in app.hosts or ("*",):
            route = (host, app.path_prefix)
            if route in routes:
                at(
                    ["apps", index],
                    f"app '{app.name}' has the same route as app '{routes[route]}' (host {host}, path "
                    f"{app.path_prefix}); expected a different host or path_prefix",
                )
            routes.setdefault(route, app.name)
        if app.path_prefix != "/" and config.prefix.startswith(app.path_prefix):
            at(
                ["apps", index, "path_prefix"],
                f"path_prefix '{app.path_prefix}' contains the reserved prefix '{config.prefix}'; "
                "expected a path outside it",
            )
    listeners: set[tuple[str, int]] = set()
    for index, listener in enumerate(config.listeners):
        if (listener.host, listener.port) in listeners:
            at(["listeners", index], f"duplicate listener {listener.host}:{listener.port}; expected each address once")
        listeners.add((listener.host, listener.port))
    if config.mode == "production" and not config.visitor.secret:
        at(
            ["visitor"] if locate(root, ["visitor"]) is not None else ["mode"],
            "production mode needs visitor.secret; expected a secret of at least 32 characters, "
            "e.g. secret: ${GUIDEGATE_SECRET}",
        )
    if config.visitor.secret is not None and len(config.visitor.secret) < 32:
        at(["visitor", "secret"], "visitor.secret is shorter than 32 characters; expected a longer random secret")
    return problems


def locate(root: yaml.Node | None, path: list[str | int]) -> yaml.Node | None:
    """Find the node at `path` (keys and list indexes), or the deepest ancestor that exists."""
    node = root
    for step in path:
        child = None
        if isinstance(node, yaml.MappingNode) and isinstance(step, str):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == step:
                    child = value
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            child = node.value[step]
        if child is None:
            return node
        node = child
    return node
