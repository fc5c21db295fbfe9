"""`guidegate demo` run as a child process on loopback ports, with its printed banner parsed."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from conftest import free_port

START_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0
LAST_BANNER_LINE = "Press Ctrl-C to stop."


@dataclass
class DemoProcess:
    """A running `guidegate demo`: its process, ports, data folder and the lines it printed."""

    process: asyncio.subprocess.Process
    port: int
    app_port: int
    data: Path
    lines: list[str]
    stderr: Path

    @property
    def url(self) -> str:
        """The proxy's base URL, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def token(self) -> str:
        """The admin token from the printed dashboard link."""
        for line in self.lines:
            found = re.search(r"admin/\?token=(\S+)$", line)
            if found:
                return found.group(1)
        raise AssertionError(f"no dashboard link in the output: {self.lines}")

    @property
    def config(self) -> Path:
        return self.data / "config.yaml"

    async def stop(self, signum: int = signal.SIGINT) -> int:
        """Send `signum` (SIGINT is what Ctrl-C sends) and return the exit status."""
        self.process.send_signal(signum)
        return await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT)

    def log(self) -> str:
        """Return what the process wrote to standard error, for failure messages."""
        return self.stderr.read_text(encoding="utf-8", errors="replace")


def guidegate_command() -> list[str]:
    """Return the installed `guidegate` console script, or `python -m proxy.cli` without one."""
    script = Path(sys.executable).with_name("guidegate")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "proxy.cli"]


@asynccontextmanager
async def running_demo(folder: Path) -> AsyncIterator[DemoProcess]:
    """Start `guidegate demo` with its data in `folder`, wait for its banner, and kill it by PID on exit if still running.

    The child gets a session of its own, so a Ctrl-C in the terminal running the tests reaches
    only the tests, which then stop the child themselves.
    """
    port, app_port = free_port(), free_port()
    data = folder / "data"
    stderr_path = folder / "demo-stderr.log"
    with stderr_path.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            *guidegate_command(),
            "demo",
            "--port",
            str(port),
            "--app-port",
            str(app_port),
            "--data",
            str(data),
            cwd=folder,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,
        )
    demo = DemoProcess(process, port, app_port, data, [], stderr_path)
    try:
        await asyncio.wait_for(_read_banner(demo), START_TIMEOUT)
        yield demo
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _read_banner(demo: DemoProcess) -> None:
    assert demo.process.stdout is not None
    while True:
        raw = await demo.process.stdout.readline()
        if not raw:
            raise AssertionError(f"guidegate demo exited before printing its banner:\n{demo.log()}")
        line = raw.decode("utf-8").rstrip("\n")
        demo.lines.append(line)
        if line == LAST_BANNER_LINE:
            return
