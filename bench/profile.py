"""Sample Guidegate and the bare forwarder with py-spy under the same load, and compare their CPU per function."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.load import Meter, WrkResult, run_wrk
from bench.peers import MITM_VENV
from bench.process import BenchError, Process

logger = logging.getLogger(__name__)

_FRAME = re.compile(r"^(?P<function>.+?) \((?P<file>.+?)(?::\d+)?\)$")
SAMPLE_RATE = 250
"""py-spy samples per second."""


@dataclass(frozen=True)
class Samples:
    """py-spy's samples of one process: per function, how many it was running in and how many it was on the stack of."""

    own: Counter[str] = field(default_factory=Counter)
    inclusive: Counter[str] = field(default_factory=Counter)
    total: int = 0


@dataclass(frozen=True)
class Profile:
    """The samples of one process under load and the CPU it spent per request meanwhile."""

    samples: Samples
    cpu_us_per_request: float

    def self_us(self, function: str) -> float:
        """Return the CPU µs per request spent in `function` itself, apportioned by its share of samples."""
        return self.cpu_us_per_request * self.samples.own[function] / self.samples.total if self.samples.total else 0.0

    def inclusive_us(self, function: str) -> float:
        """Return the CPU µs per request spent in `function` and everything it called."""
        if not self.samples.total:
            return 0.0
        return self.cpu_us_per_request * self.samples.inclusive[function] / self.samples.total


@dataclass(frozen=True)
class Hotspot:
    """A function with its CPU µs per request in Guidegate (self and inclusive) and in the bare forwarder (self)."""

    function: str
    guidegate_self_us: float
    guidegate_inclusive_us: float
    floor_self_us: float


def py_spy_path() -> str | None:
    """Return the py-spy executable of bench/.venv-mitm or of PATH, or None when it is not installed."""
    candidate = MITM_VENV / "bin" / "py-spy"
    if os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which("py-spy")


def profile_under_load(py_spy: str, process: Process, url: str, workdir: Path, seconds: float, connections: int) -> Profile:
    """Record `process` with py-spy while wrk loads `url` for `seconds`; return its samples and CPU per request."""
    output = workdir / f"profile-{process.pid}.txt"
    command = [
        py_spy, "record", "--pid", str(process.pid), "--duration", str(max(1, int(seconds) - 1)),
        "--rate", str(SAMPLE_RATE), "--format", "raw", "--output", str(output), "--nonblocking",
    ]
    results: list[WrkResult] = []

    def load() -> None:
        results.append(run_wrk(url, workdir, seconds=seconds, connections=connections, max_requests=10**7))

    meter = Meter(process)
    meter.start()
    recorder = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    loader = threading.Thread(target=load)
    loader.start()
    try:
        message, _ = recorder.communicate(timeout=seconds + 30)
    except subprocess.TimeoutExpired:
        recorder.kill()
        message, _ = recorder.communicate()
    finally:
        loader.join(timeout=seconds + 60)
    used = meter.stop()
    if recorder.returncode != 0 or not output.exists():
        text = message.decode(errors="replace").strip()
        raise BenchError(f"py-spy failed with status {recorder.returncode} on pid {process.pid}: {text}")
    if not results or not results[0].requests:
        raise BenchError(f"wrk completed no requests on {url} while py-spy recorded it")
    samples = parse_collapsed(output.read_text(encoding="utf-8", errors="replace"))
    return Profile(samples, 1e6 * used.cpu_seconds / results[0].requests)


def merge(profiles: list[Profile]) -> Profile:
    """Combine profiles of the same process taken in turns: samples added up, CPU per request averaged."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for profile in profiles:
        own.update(profile.samples.own)
        inclusive.update(profile.samples.inclusive)
    total = sum(profile.samples.total for profile in profiles)
    cpu = sum(profile.cpu_us_per_request for profile in profiles) / len(profiles)
    return Profile(Samples(own, inclusive, total), cpu)


def parse_collapsed(collapsed: str) -> Samples:
    """Count samples per function in py-spy's collapsed stacks, one 'frame;frame;... count' per line."""
    samples = Samples()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_name(frame) for frame in stack.split(";")]
        samples.own[frames[-1]] += count
        for frame in set(frames):
            samples.inclusive[frame] += count
    return Samples(samples.own, samples.inclusive, total)


def compare(guidegate: Profile, floor: Profile, limit: int = 20) -> list[Hotspot]:
    """Return the functions on which Guidegate spends the most CPU per request beyond the bare forwarder.

    Also listed are Guidegate's own functions that take 2 µs per request or more with what they call.
    """
    names = set(guidegate.samples.own) | set(floor.samples.own)
    extra = sorted(names, key=lambda name: guidegate.self_us(name) - floor.self_us(name), reverse=True)
    ours = [
        name for name in guidegate.samples.inclusive
        if "(proxy/" in name and guidegate.inclusive_us(name) >= 2.0
    ]
    chosen = list(dict.fromkeys([*extra[:limit], *ours]))
    spots = [
        Hotspot(name, guidegate.self_us(name), guidegate.inclusive_us(name), floor.self_us(name)) for name in chosen
    ]
    return sorted(spots, key=lambda spot: spot.floor_self_us - spot.guidegate_self_us)


def _name(frame: str) -> str:
    """Shorten 'function (path/to/module.py:12)' to 'function (module.py)', keeping the package for ours."""
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    path = match.group("file")
    for package in ("proxy/", "bench/", "aiohttp/", "multidict/", "yarl/", "prometheus_client/", "asyncio/"):
        if package in path:
            path = package + path.split(package, 1)[1]
            break
    else:
        path = Path(path).name
    return f"{match.group('function')} ({path})"
