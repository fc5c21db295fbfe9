"""Processes the harness starts: launch, wait for the port, read CPU and memory from /proc, stop by PID."""

from __future__ import annotations

import logging
import os
import resource
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

logger = logging.getLogger(__name__)

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
STOP_GRACE = 5.0
"""Seconds a process gets to exit after SIGTERM before it is sent SIGKILL."""


class BenchError(Exception):
    """A benchmark step failed: a process did not start, a tool is missing or a run went wrong."""


def free_port() -> int:
    """Return a loopback TCP port that is free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Process:
    """A process the harness started, with the log file its output goes to."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def pids(self) -> list[int]:
        """Return this process and its descendants (nginx workers, forked proxy workers)."""
        return [self.pid, *descendants(self.pid)]

    def log_tail(self, lines: int = 20) -> str:
        """Return the last lines of the process's output, for error messages."""
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Send SIGTERM to this PID, wait, then SIGKILL the PID and any descendant still alive."""
        if self.popen.poll() is not None:
            return
        children = descendants(self.pid)
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            logger.warning("%s (pid %d) did not stop within %.0f s; killing it", self.name, self.pid, STOP_GRACE)
            self.popen.kill()
            self.popen.wait(timeout=STOP_GRACE)
        for child in children:
            if _alive(child):
                logger.warning("%s: child pid %d outlived its parent; killing it", self.name, child)
                try:
                    os.kill(child, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        logger.info("%s (pid %d) stopped", self.name, self.pid)


@dataclass
class ProcessGroup:
    """Every process started in a `with` block; all are stopped by PID when the block ends."""

    workdir: Path
    processes: list[Process] = field(default_factory=list)

    def start(self, name: str, command: Sequence[str], *, env: dict[str, str] | None = None) -> Process:
        """Start `command` with its output in `<workdir>/<name>.log`."""
        log = self.workdir / f"{name}.log"
        with log.open("wb") as output:
            popen = subprocess.Popen(
                list(command), stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )
        process = Process(name, popen, log)
        self.processes.append(process)
        logger.info("%s started with pid %d: %s", name, popen.pid, " ".join(command))
        return process

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        for process in reversed(self.processes):
            try:
                process.stop()
            except OSError as failure:
                logger.error("%s (pid %d) could not be stopped: %s", process.name, process.pid, failure)


def wait_for_port(process: Process, port: int, timeout: float = 20.0) -> None:
    """Wait until `port` on 127.0.0.1 accepts connections; raise BenchError if the process exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise BenchError(
                f"{process.name} exited with status {process.popen.returncode} before listening on port {port}; "
                f"its output ends with:\n{process.log_tail()}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise BenchError(f"{process.name} did not listen on 127.0.0.1:{port} within {timeout:.0f} s; see {process.log}")


def descendants(pid: int) -> list[int]:
    """Return the PIDs below `pid` in the process tree, read from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _read_stat(int(entry))
        if stat is not None:
            parents.setdefault(int(stat[1]), []).append(int(entry))
    found: list[int] = []
    pending = [pid]
    while pending:
        for child in parents.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def cpu_seconds(pids: Sequence[int]) -> float:
    """Return the user plus system CPU time used so far by `pids`, in seconds."""
    total = 0
    for pid in pids:
        stat = _read_stat(pid)
        if stat is not None:
            # Fields after the command name: state is index 0, utime index 11, stime index 12 (proc(5)).
            total += int(stat[11]) + int(stat[12])
    return total / CLOCK_TICKS


def main_thread_cpu_seconds(pid: int) -> float:
    """Return the user plus system CPU time used so far by the main thread of `pid`, in seconds (0 if it is gone)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/stat").read_text()
    except OSError:
        return 0.0
    stat = text[text.rindex(")") + 2 :].split()
    return (int(stat[11]) + int(stat[12])) / CLOCK_TICKS


def reset_peak_rss(pids: Sequence[int]) -> None:
    """Reset each process's VmHWM to its current RSS (writing 5 to /proc/PID/clear_refs, Linux 4.0 and later)."""
    for pid in pids:
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError as error:
            logger.warning("could not reset the peak RSS of pid %d: %s", pid, error)


def memory_bytes(pids: Sequence[int], field_name: str) -> int:
    """Return the sum of a /proc/PID/status memory field (VmRSS, VmHWM) over `pids`, in bytes."""
    total = 0
    for pid in pids:
        try:
            lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            if line.startswith(field_name + ":"):
                total += int(line.split()[1]) * 1024
    return total


def _read_stat(pid: int) -> list[str] | None:
    """Return the fields of /proc/PID/stat after the command name, or None if the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def _alive(pid: int) -> bool:
    stat = _read_stat(pid)
    return stat is not None and stat[0] != "Z"


def machine_cpu_seconds() -> tuple[float, float]:
    """Return the machine's (busy, total) CPU seconds since boot from /proc/stat, busy being user, nice and system."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, idle, iowait, irq, softirq = (int(value) for value in fields[:7])
    return (user + nice + system) / CLOCK_TICKS, (user + nice + system + idle + iowait + irq + softirq) / CLOCK_TICKS


class OtherLoad:
    """Estimates the CPU share that processes outside the harness took between `start()` and `stop()`.

    The harness's share is its own CPU, that of the finished tools it ran (wrk, curl) and that of the
    servers in its process group. The machine's busy time beyond that belongs to other processes.
    Interrupt time is left out of both, so the figure is an estimate.
    """

    def __init__(self, group: ProcessGroup) -> None:
        self._group = group
        self._start = (0.0, 0.0, 0.0)

    def _ours(self) -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        tools = resource.getrusage(resource.RUSAGE_CHILDREN)
        servers = sum(cpu_seconds(process.pids()) for process in self._group.processes)
        return own.ru_utime + own.ru_stime + tools.ru_utime + tools.ru_stime + servers

    def start(self) -> None:
        busy, total = machine_cpu_seconds()
        self._start = (busy, total, self._ours())

    def stop(self) -> float:
        """Return the other processes' share of all CPU time since `start()`, from 0 to 1."""
        busy, total = machine_cpu_seconds()
        other = (busy - self._start[0]) - (self._ours() - self._start[2])
        elapsed = total - self._start[1]
        return max(0.0, other / elapsed) if elapsed > 0 else 0.0
