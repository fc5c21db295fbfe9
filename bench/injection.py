"""The injection scenarios: HTML pages with and without the runtime spliced in, against nginx sub_filter."""

from __future__ import annotations

import gzip
import logging
import statistics
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from bench.fixtures import HEAD_MARKER, PAGE_SIZES, Fixtures, build_page
from bench.load import HttpClient, Response
from bench.process import BenchError
from bench.results import Results
from bench.scenarios import DIRECT, LoadRunner, Target, rotated
from bench.upstream import SLOW_PATH

logger = logging.getLogger(__name__)

INJECTION = "injection"
SLOW = "slow page"

GUIDEGATE_INJECTED = "Guidegate, injected"
GUIDEGATE_PASSTHROUGH = "Guidegate, inject off"
NGINX_SUB_FILTER = "nginx sub_filter"

RUNTIME_FILE = b"guidegate.js"
FALLBACK_MATCH = "<head>"
FALLBACK_TAG = '<script src="/__guidegate/runtime/guidegate.js" defer></script>'

NAVIGATION_HEADERS = (
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Sec-Fetch-Dest: document",
    "Sec-Fetch-Mode: navigate",
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) guidegate-bench",
)
"""Request headers of a browser navigation, so the proxy treats the request as a document load."""

ENCODINGS = {"plain": (), "gzip": ("Accept-Encoding: gzip",)}


@dataclass(frozen=True)
class Splice:
    """A snippet Guidegate inserted into a page, and the page text just before it."""

    match: str
    snippet: str


def decoded_body(response: Response) -> bytes:
    """Return the body with its Content-Encoding (gzip or deflate) removed."""
    encoding = response.headers.get("content-encoding", "identity").lower()
    if encoding == "gzip":
        return gzip.decompress(response.body)
    if encoding == "deflate":
        return zlib.decompress(response.body)
    if encoding in ("identity", ""):
        return response.body
    raise BenchError(f"the response is encoded with {encoding}, which the harness cannot decode")


def fetch(base_url: str, path: str, headers: Sequence[str]) -> Response:
    """GET one page on a new connection."""
    client = HttpClient(base_url)
    try:
        return client.get(path, headers)
    finally:
        client.close()


def find_splice(original: bytes, injected: bytes) -> Splice | None:
    """Return the inserted bytes and the tag before them, or None when the page differs in more than one insertion."""
    extra = len(injected) - len(original)
    if extra <= 0:
        return None
    start = 0
    while start < len(original) and original[start] == injected[start]:
        start += 1
    if injected[start + extra :] != original[start:]:
        return None
    # Where the snippet's ends equal the text around it, several offsets explain the same bytes:
    # slide left over them and take the first at which the snippet is whole tags ('<' ... '>').
    leftmost = start
    while leftmost > 0 and injected[leftmost - 1] == injected[leftmost - 1 + extra]:
        leftmost -= 1
    for offset in range(leftmost, start + 1):
        candidate = injected[offset : offset + extra].strip()
        if candidate.startswith(b"<") and candidate.endswith(b">"):
            start = offset
            break
    tag_start = original.rfind(b"<", 0, start)
    if tag_start < 0:
        return None
    return Splice(original[tag_start:start].decode("ascii"), injected[start : start + extra].decode("ascii"))


def injection_active(guidegate: Target, fixtures: Fixtures) -> Splice | None:
    """Return where Guidegate spliced its runtime into a 20 KiB page, or None when it did not inject."""
    path = fixtures.page_path("20 KiB")
    response = fetch(guidegate.url, path, NAVIGATION_HEADERS)
    if response.status != 200 or RUNTIME_FILE not in response.body:
        return None
    splice = find_splice(build_page(PAGE_SIZES["20 KiB"]), response.body)
    return splice if splice is not None else Splice(FALLBACK_MATCH, FALLBACK_TAG)


def nginx_strings(splice: Splice) -> tuple[str, str]:
    """Return the sub_filter match and replacement that insert the same snippet at the same place."""
    match = splice.match
    replacement = splice.match + splice.snippet
    if any(character in text for text in (match, replacement) for character in "'$\\"):
        return FALLBACK_MATCH, FALLBACK_MATCH + FALLBACK_TAG
    return match.replace("\n", "\\n"), replacement.replace("\n", "\\n")


def check_pages(targets: Sequence[Target], fixtures: Fixtures, sizes: Sequence[str], results: Results) -> None:
    """Fetch every page once through every target and note how it came back (encoding, runtime present)."""
    for size in sizes:
        original = build_page(PAGE_SIZES[size])
        for encoding, extra in ENCODINGS.items():
            for target in targets:
                response = fetch(target.url, fixtures.page_path(size), (*NAVIGATION_HEADERS, *extra))
                body = decoded_body(response)
                injected = RUNTIME_FILE in body
                expect_injected = target.name != GUIDEGATE_PASSTHROUGH
                sent_as = response.headers.get("content-encoding", "identity")
                if response.status != 200 or injected != expect_injected or (not injected and body != original):
                    raise BenchError(
                        f"{target.name} returned status {response.status} for the {size} {encoding} page "
                        f"(runtime present: {injected}, expected {expect_injected}); the comparison would be unfair"
                    )
                if encoding == "gzip":
                    results.note(f"{target.name} answers a client that accepts gzip with Content-Encoding: {sent_as}.")


def run_injection(runner: LoadRunner, targets: Sequence[Target], fixtures: Fixtures, repeat: int) -> None:
    """Load every page size, plain and gzip, through each target under wrk."""
    for size in runner.settings.injection_sizes:
        for encoding, extra in ENCODINGS.items():
            case = f"{size} {encoding}"
            for target in rotated(targets, repeat):
                runner.load(
                    INJECTION, case, target, fixtures.page_path(size), seconds=runner.settings.injection_seconds,
                    headers=(*NAVIGATION_HEADERS, *extra), ttfb=False,
                )


def run_slow_page(runner: LoadRunner, targets: Sequence[Target], repeat: int) -> None:
    """Time the first byte, the head and the whole of a page whose upstream sends the rest after a delay."""
    delay = runner.settings.slow_delay
    for target in rotated(targets, repeat):
        first, head, whole = [], [], []
        client = HttpClient(target.url)
        try:
            for _ in range(runner.settings.slow_count):
                response = client.get(SLOW_PATH, NAVIGATION_HEADERS, marker=HEAD_MARKER)
                if response.status != 200 or response.marker is None:
                    raise BenchError(f"{target.name} returned the slow page with status {response.status} and no head marker")
                first.append(response.first_byte * 1000)
                head.append(response.marker * 1000)
                whole.append(response.end * 1000)
        finally:
            client.close()
        record = runner.results.add
        record(SLOW, f"rest after {delay * 1000:.0f} ms", target.name, "ttfb_ms", statistics.median(first))
        record(SLOW, f"rest after {delay * 1000:.0f} ms", target.name, "head_ms", statistics.median(head))
        record(SLOW, f"rest after {delay * 1000:.0f} ms", target.name, "page_ms", statistics.median(whole))


def slow_page_targets(direct: Target, targets: Sequence[Target]) -> list[Target]:
    """Return the targets of the slow-page scenario: the upstream itself first, then the proxies."""
    return [Target(DIRECT, direct.url, direct.process), *targets]
