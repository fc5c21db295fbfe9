"""config.yaml into frozen dataclasses, with every problem reported as file:line:column."""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Mapping
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
    # The checks resolve certificate paths against the config file's folder, so base_dir comes first.
    object.__setattr__(config, "base_dir", file.resolve().parent)
    problems = _check(config, node, display)
    if problems:
        raise ConfigError(problems)
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
        if app.path_prefix.startswith(config.prefix):
            at(
                ["apps", index, "path_prefix"],
                f"path_prefix '{app.path_prefix}' lies inside the reserved prefix '{config.prefix}', so the app "
                "would never be reached; expected a path outside it",
            )
        if app.ca_file is not None:
            _check_pem(config, ["apps", index, "ca_file"], app.ca_file, None, at)
    listeners: set[tuple[str, int]] = set()
    for index, listener in enumerate(config.listeners):
        if (listener.host, listener.port) in listeners:
            at(["listeners", index], f"duplicate listener {listener.host}:{listener.port}; expected each address once")
        if listener.tls is not None:
            _check_pem(config, ["listeners", index, "tls"], listener.tls.certificate, listener.tls.key, at)
        listeners.add((listener.host, listener.port))
    if config.mode == "production" and not config.visitor.secret:
        at(
            ["visitor"] if locate(root, ["visitor"]) is not root else ["mode"],
            "production mode needs visitor.secret; expected a secret of at least 32 characters, "
            "e.g. secret: ${GUIDEGATE_SECRET}",
        )
    if config.visitor.secret is not None and len(config.visitor.secret) < 32:
        at(["visitor", "secret"], "visitor.secret is shorter than 32 characters; expected a longer random secret")
    return problems


def _check_pem(
    config: Config,
    path: list[str | int],
    certificate: str,
    key: str | None,
    at: Callable[[list[str | int], str], None],
) -> None:
    """Report a CA file, or a certificate and its key, that is missing or that TLS cannot load.

    With a key, `path` leads to the `tls` mapping and each missing file is reported at its own key.
    """
    files = [(path + ["certificate"], certificate), (path + ["key"], key)] if key is not None else [(path, certificate)]
    missing = False
    for where, name in files:
        if name is not None and not config.resolve(name).is_file():
            at(where, f"file '{name}' not found at {config.resolve(name)}; expected a PEM file, relative to the config file")
            missing = True
    if missing:
        return
    try:
        if key is None:
            ssl.create_default_context(cafile=str(config.resolve(certificate)))
        else:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(config.resolve(certificate)), str(config.resolve(key)))
    except (ssl.SSLError, OSError) as error:
        reason = getattr(error, "reason", None) or error.strerror or str(error)
        subject = f"certificate '{certificate}' with key '{key}'" if key else f"CA file '{certificate}'"
        expected = "a PEM certificate chain and its matching private key" if key else "PEM CA certificates"
        at(path, f"cannot load {subject}: {reason}; expected {expected}")


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
