"""The allocator tuning keeps freed body buffers for reuse, so a stream of large bodies causes no page faults."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROGRAM = """
import resource, sys
from proxy.allocator import tune_allocator
tuned = tune_allocator() if sys.argv[1] == "tuned" else False
def churn():
    for _ in range(400):
        body = bytes(200 * 1024)
        copy = body[1:]
        del body, copy
churn()  # warm up: the heap grows once
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
churn()
print(tuned, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(mode: str) -> tuple[str, int]:
    completed = subprocess.run([sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True, check=True, timeout=60)
    tuned, faults = completed.stdout.split()
    return tuned, int(faults)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator is tuned on Linux only")
def test_tuned_reuses_memory() -> None:
    tuned, faults = page_faults("tuned")

    assert tuned == "True"
    # 400 rounds of two 200 KiB buffers would fault about 40,000 times without reuse.
    assert faults < 400


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator is tuned on Linux only")
def test_default_faults() -> None:
    tuned, faults = page_faults("default")

    assert tuned == "False"
    assert faults > 10_000
