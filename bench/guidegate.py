"""Guidegate under test: the benchmark configuration and `guidegate run` in its own process."""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from bench.process import BenchError, Process, ProcessGroup, free_port, wait_for_port


DEMO_RULES = Path(__file__).resolve().parents[1] / "rules" / "demo"


def benchmark_config(
    upstream: str, port: int, workdir: Path, *, inject: bool = True, rules: Path = DEMO_RULES
) -> dict[str, Any]:
    """Return a config.yaml document with every feature configured, none of which the core scenarios trigger.

    The core bodies are application/octet-stream, so injection is configured but idle for them, and it
    works on the HTML pages of the injection scenarios. Extend this function as features land, keeping
    them idle for the core paths, e.g. a rules folder whose guides and workflows match no path under test.
    """
    return {
        "listeners": [{"host": "127.0.0.1", "port": port}],
        "prefix": "/__guidegate/",
        "trusted_proxies": ["10.255.255.0/24"],
        "mode": "production",
        "workers": 1,
        "shutdown_timeout": "2s",
        "logging": {"level": "info", "format": "text", "access_log": False},
        "visitor": {"secret": secrets.token_hex(24)},
        "storage": {"backend": "sqlite", "path": str(workdir / "events.sqlite3")},
        "admin": {"token": secrets.token_hex(16)},
        "apps": [
            {
                # Named after the demo app, because the demo rule files declare `app: demo`.
                "name": "demo",
                "upstream": upstream + "/",
                "host_header": "upstream",
                "timeouts": {"connect": "5s", "read": "60s"},
                "max_request_body": "100MiB",
                "max_connections": 100,
                # By default the demo rules: they load and compile, but no benchmark path is one of their pages or steps.
                "rules": [str(rules)],
                "identity": {"sources": ["headers", "map"], "map": str(workdir / "roles.csv"), "default_roles": ["staff"]},
                "inject": {"enabled": inject, "statuses": [200], "lookahead": "64KiB", "csp": "respect"},
            }
        ],
    }


def guidegate_command() -> list[str]:
    """Return the command that runs the `guidegate` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "guidegate"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "proxy.cli"]


def start_guidegate(
    group: ProcessGroup,
    name: str,
    upstream: str,
    *,
    workers: int = 1,
    inject: bool = True,
    rules: Path = DEMO_RULES,
    edit: Callable[[dict[str, Any]], None] | None = None,
    env: dict[str, str] | None = None,
) -> tuple[Process, str]:
    """Write a config for `upstream` and start `guidegate run --config PATH --workers N`; wait for its port.

    `edit` may change the configuration document before it is written, and `env` replaces the process's environment.
    """
    port = free_port()
    folder = group.workdir / name
    folder.mkdir(exist_ok=True)
    config = folder / "config.yaml"
    document = benchmark_config(upstream, port, folder, inject=inject, rules=rules)
    if edit is not None:
        edit(document)
    config.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    (folder / "roles.csv").write_text("alice,clerk\nbob,manager\n", encoding="utf-8")
    config.chmod(0o600)
    process = group.start(name, [*guidegate_command(), "run", "--config", str(config), "--workers", str(workers)], env=env)
    wait_for_port(process, port)
    if workers > 1:
        wait_for_listeners(process, port, workers)
    return process, f"http://127.0.0.1:{port}"


def wait_for_listeners(process: Process, port: int, count: int, timeout: float = 20.0) -> None:
    """Wait until `count` sockets listen on `port` (one per worker under SO_REUSEPORT)."""
    deadline = time.monotonic() + timeout
    while listening_sockets(port) < count:
        if process.popen.poll() is not None or time.monotonic() > deadline:
            raise BenchError(f"{process.name} did not start {count} listening workers within {timeout:.0f} s; see {process.log}")
        time.sleep(0.05)


def listening_sockets(port: int) -> int:
    """Return how many IPv4 sockets are in the LISTEN state on `port`, read from /proc/net/tcp."""
    suffix = f":{port:04X}"
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(suffix) and fields[3] == "0A":
            count += 1
    return count
