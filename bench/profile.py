"""Sample Guidegate with py-spy while wrk loads it, and rank functions by the share of samples they appear in."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.load import run_wrk
from bench.peers import MITM_VENV
from bench.process import BenchError

logger = logging.getLogger(__name__)

_FRAME = re.compile(r"^(?P<function>.+?) \((?P<file>.+?)(?::\d+)?\)$")


@dataclass(frozen=True)
class Hotspot:
    """A function and the share of samples it was running in (self) or on the stack of (inclusive)."""

    function: str
    self_share: float
    inclusive_share: float


def py_spy_path() -> str | None:
    """Return the py-spy executable of bench/.venv-mitm or of PATH, or None when it is not installed."""
    candidate = MITM_VENV / "bin" / "py-spy"
    if os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which("py-spy")


def profile_under_load(py_spy: str, pid: int, url: str, workdir: Path, seconds: float, connections: int) -> list[Hotspot]:
    """Record `pid` with py-spy while wrk loads `url` for `seconds`; return the hottest functions."""
    output = workdir / f"profile-{pid}.txt"
    command = [
        py_spy, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds) - 1)), "--rate", "250",
        "--format", "raw", "--output", str(output), "--nonblocking",
    ]
    recorder = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    load = threading.Thread(
        target=run_wrk, args=(url, workdir), kwargs={"seconds": seconds, "connections": connections, "max_requests": 10**7}
    )
    load.start()
    try:
        message, _ = recorder.communicate(timeout=seconds + 30)
    except subprocess.TimeoutExpired:
        recorder.kill()
        message, _ = recorder.communicate()
    finally:
        load.join(timeout=seconds + 60)
    if recorder.returncode != 0 or not output.exists():
        text = message.decode(errors="replace").strip()
        raise BenchError(f"py-spy failed with status {recorder.returncode} on pid {pid}: {text}")
    return summarise(output.read_text(encoding="utf-8", errors="replace"))


def summarise(collapsed: str, limit: int = 15) -> list[Hotspot]:
    """Rank functions in py-spy's collapsed stacks ('frame;frame;... count' per line) by inclusive share."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_name(frame) for frame in stack.split(";")]
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if total == 0:
        return []
    # The functions that run the most themselves, plus Guidegate's own functions that hold 1 % or more.
    hottest = [name for name, _ in own.most_common(limit)]
    ours = [name for name, count in inclusive.most_common() if "(proxy/" in name and count / total >= 0.01]
    chosen = list(dict.fromkeys([*hottest, *ours]))
    return sorted(
        (Hotspot(name, own[name] / total, inclusive[name] / total) for name in chosen),
        key=lambda spot: (-spot.self_share, -spot.inclusive_share),
    )


def _name(frame: str) -> str:
    """Shorten 'function (path/to/module.py:12)' to 'function (module.py)', keeping the package for ours."""
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    path = match.group("file")
    for package in ("proxy/", "aiohttp/", "multidict/", "yarl/", "prometheus_client/", "asyncio/"):
        if package in path:
            path = package + path.split(package, 1)[1]
            break
    else:
        path = Path(path).name
    return f"{match.group('function')} ({path})"
