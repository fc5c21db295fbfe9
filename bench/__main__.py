"""`python -m bench`: run every scenario, print the tables and, on a full run, rewrite docs/BENCHMARKS.md."""

from __future__ import annotations

import argparse
import datetime
import logging
import shlex
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.capture import CAPTURE, run_capture
from bench.companions import COMPANIONS, run_companion
from bench.fixtures import GIB, MIB, PAGE_SIZES, Fixtures, write_fixtures
from bench.floor import start_floor
from bench.guidegate import start_guidegate
from bench.injection import (
    GUIDEGATE_INJECTED,
    GUIDEGATE_PASSTHROUGH,
    INJECTION,
    NGINX_SUB_FILTER,
    check_pages,
    injection_active,
    nginx_strings,
    run_injection,
    run_slow_page,
    slow_page_targets,
)
from bench.peers import mitmdump_path, start_mitmproxy, start_nginx_proxy, start_nginx_sub_filter
from bench.process import BenchError, OtherLoad, ProcessGroup
from bench.profile import compare, merge, profile_under_load, py_spy_path
from bench.report import describe_machine, render
from bench.results import Results
from bench.scenarios import (
    CORE,
    DIRECT,
    DOWNLOAD,
    FLOOR,
    GUIDEGATE,
    GUIDEGATE_2,
    MITMPROXY,
    NGINX,
    LoadRunner,
    Settings,
    Target,
    run_core,
    run_download,
    warm_up,
)
from bench.targets import evaluate
from bench.upstream import start_upstream

logger = logging.getLogger("bench")

REPOSITORY = Path(__file__).resolve().parent.parent
REPORT = REPOSITORY / "docs" / "BENCHMARKS.md"
CAPTURE_REPORT = REPOSITORY / "docs" / "BENCHMARKS-capture.md"
PROXY_SECTIONS = (CORE, DOWNLOAD, INJECTION)
SECTIONS = (*PROXY_SECTIONS, CAPTURE, *COMPANIONS)
PROFILE_TURNS = 3

FULL = Settings(
    repeats=3, seconds=5, connections=64, ttfb_count=200, download_size=GIB, warmup=True,
    injection_seconds=3, injection_sizes=tuple(PAGE_SIZES), slow_delay=0.5, slow_count=5,
)
QUICK = Settings(
    repeats=1, seconds=1, connections=32, ttfb_count=50, download_size=64 * MIB, warmup=False,
    injection_seconds=1, injection_sizes=("20 KiB",), slow_delay=0.5, slow_count=2,
)


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark Guidegate against the upstream itself, a bare aiohttp forwarder, nginx and mitmproxy.",
    )
    parser.add_argument(
        "--quick", action="store_true",
        help="a smoke run of under a minute: one repeat, 1 s loads, no rules or events benchmark unless --only names it",
    )
    parser.add_argument("--repeats", type=int, default=None, help="interleaved repeats per figure (default: 3, quick: 1)")
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only this section; may be repeated")
    parser.add_argument(
        "--output", type=Path, default=None,
        help=f"Markdown report to write (default: {REPORT.relative_to(REPOSITORY)} on a full run, none otherwise)",
    )
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy profile taken when Guidegate misses a target")
    parser.add_argument("--verbose", action="store_true", help="log every measurement and process start")
    arguments = parser.parse_args(argv)
    if arguments.repeats is not None and not 1 <= arguments.repeats <= 50:
        parser.error(f"invalid --repeats {arguments.repeats}; expected 1 to 50")
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    """Run the harness; return 0 when it ran (whatever the verdicts), 1 when a step failed."""
    arguments = parse_arguments(argv)
    logging.basicConfig(
        level=logging.INFO if arguments.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    base = QUICK if arguments.quick else FULL
    settings = Settings(**{**vars(base), "repeats": arguments.repeats or base.repeats})
    # A quick run stays under a minute by leaving the rules and events benchmarks out unless --only names them.
    sections = tuple(arguments.only or (PROXY_SECTIONS if arguments.quick else SECTIONS))
    output = arguments.output
    if output is None and not arguments.quick and arguments.only is None:
        output = REPORT
    command = shlex.join([".venv/bin/python", "-m", "bench", *(sys.argv[1:] if argv is None else argv)])
    started = datetime.datetime.now(datetime.timezone.utc)

    workdir = Path(tempfile.mkdtemp(prefix="guidegate-bench-"))
    results = Results()
    try:
        measure(settings, sections, workdir, results, profile=not arguments.no_profile and not arguments.quick)
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        print(f"bench: the servers' logs are in {workdir}", file=sys.stderr)
        return 1
    if CAPTURE in sections:
        # The capture figures go to a file of their own, so that `--only capture` leaves BENCHMARKS.md as it is.
        try:
            capture_text = run_capture(settings, workdir / "capture", command)
        except BenchError as error:
            print(f"bench: {error}", file=sys.stderr)
            print(f"bench: the servers' logs are in {workdir / 'capture'}", file=sys.stderr)
            return 1
        print(capture_text)
        if not arguments.quick:
            CAPTURE_REPORT.write_text(capture_text, encoding="utf-8")
            print(f"bench: wrote {CAPTURE_REPORT}")
        results.note(f"Capture on vs idle is measured separately, in [{CAPTURE_REPORT.name}]({CAPTURE_REPORT.name}).")
    for section in sections:
        if section in COMPANIONS:
            heading, module = COMPANIONS[section]
            outcome = run_companion(module, arguments.quick)
            if isinstance(outcome, str):
                results.skipped[heading] = outcome
                print(f"{heading}: skipped: {outcome}")
            else:
                results.extra[heading] = outcome
    shutil.rmtree(workdir, ignore_errors=True)

    mitmdump = mitmdump_path()
    text = render(results, settings, describe_machine(mitmdump), command, started, method(settings))
    print(text)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        print(f"bench: wrote {output}")
    return 0


def measure(settings: Settings, sections: Sequence[str], workdir: Path, results: Results, *, profile: bool) -> None:
    """Start every server, run the selected sections in interleaved repeats, and stop every server."""
    if not set(PROXY_SECTIONS) & set(sections):
        return
    fixtures = write_fixtures(workdir / "files", settings.download_size)
    with ProcessGroup(workdir) as group:
        upstream = start_upstream(group, fixtures, settings.slow_delay)
        direct = Target(DIRECT, upstream.url, upstream.nginx)
        process, url = start_guidegate(group, "guidegate", upstream.url)
        guidegate = Target(GUIDEGATE, url, process)
        process, url = start_floor(group, upstream.url)
        floor = Target(FLOOR, url, process)
        process, url = start_nginx_proxy(group, upstream.url)
        nginx = Target(NGINX, url, process)
        proxies = [guidegate, floor, nginx]
        mitmdump = mitmdump_path()
        if mitmdump is None:
            reason = "mitmproxy is not installed (expected bench/.venv-mitm/bin/mitmdump or mitmdump on PATH)"
            results.skipped[MITMPROXY] = reason
            print(f"{MITMPROXY}: skipped: {reason}")
        else:
            process, url = start_mitmproxy(group, upstream.url, mitmdump)
            proxies.append(Target(MITMPROXY, url, process))
        core_targets = [direct, *proxies]
        if CORE in sections:
            process, url = start_guidegate(group, "guidegate-2-workers", upstream.url, workers=2)
            core_targets.append(Target(GUIDEGATE_2, url, process))

        injection_targets: list[Target] = []
        if INJECTION in sections:
            injection_targets = start_injection_targets(group, guidegate, fixtures, upstream.url, results)

        runner = LoadRunner(settings, workdir, upstream.nginx, results)
        warm_up(runner, core_targets, fixtures)
        for repeat in range(settings.repeats):
            print(f"bench: repeat {repeat + 1} of {settings.repeats}", file=sys.stderr)
            other = OtherLoad(group)
            other.start()
            if CORE in sections:
                run_core(runner, core_targets, fixtures, repeat)
            if DOWNLOAD in sections:
                run_download(runner, [direct, *proxies], fixtures, repeat)
            if injection_targets:
                run_injection(runner, injection_targets, fixtures, repeat)
                run_slow_page(runner, slow_page_targets(direct, injection_targets), repeat)
            results.other_load.append(other.stop())
        if profile and CORE in sections:
            profile_if_missed(results, guidegate, floor, fixtures.body_path("2 KiB"), workdir, settings)


def start_injection_targets(
    group: ProcessGroup, guidegate: Target, fixtures: Fixtures, upstream: str, results: Results
) -> list[Target]:
    """Start the injection peers if Guidegate injects; otherwise record why the section is skipped."""
    splice = injection_active(guidegate, fixtures)
    if splice is None:
        results.skipped[INJECTION] = "injection not wired (a page fetched through Guidegate has no guidegate.js)"
        print("injection: skipped: injection not wired")
        return []
    match, replacement = nginx_strings(splice)
    results.note(f"nginx sub_filter replaces `{splice.match.strip()}` with it followed by the snippet Guidegate inserted.")
    # Both Guidegate arms are started here and see the same traffic. The core process also serves the
    # core loads and the download in every repeat, so it would not be a like-for-like comparison.
    process, url = start_guidegate(group, "guidegate-inject-off", upstream, inject=False)
    passthrough = Target(GUIDEGATE_PASSTHROUGH, url, process)
    process, url = start_guidegate(group, "guidegate-injected", upstream)
    injected = Target(GUIDEGATE_INJECTED, url, process)
    process, url = start_nginx_sub_filter(group, upstream, match, replacement)
    sub_filter = Target(NGINX_SUB_FILTER, url, process)
    targets = [passthrough, injected, sub_filter]
    check_pages(targets, fixtures, tuple(PAGE_SIZES), results)
    return targets


def profile_if_missed(
    results: Results, guidegate: Target, floor: Target, path: str, workdir: Path, settings: Settings
) -> None:
    """Profile Guidegate and the bare forwarder under load with py-spy when Guidegate misses a target."""
    missed = [verdict for verdict in evaluate(results) if verdict.passed is False and "Guidegate" in verdict.target]
    if not missed:
        return
    py_spy = py_spy_path()
    if py_spy is None:
        results.note("Guidegate missed a target, but py-spy is not installed, so no profile was taken.")
        return
    # Turns of 4 s each, so that both processes meet much the same load from outside the harness.
    ours, theirs = [], []
    for _ in range(PROFILE_TURNS):
        ours.append(profile_under_load(py_spy, guidegate.process, guidegate.url + path, workdir, 4, settings.connections))
        theirs.append(profile_under_load(py_spy, floor.process, floor.url + path, workdir, 4, settings.connections))
    results.profile = compare(merge(ours), merge(theirs))
    results.profile_cpu_us = {GUIDEGATE: merge(ours).cpu_us_per_request, FLOOR: merge(theirs).cpu_us_per_request}


def method(settings: Settings) -> str:
    """Return the paragraphs that describe how every figure was measured."""
    return (
        "Every server listens on 127.0.0.1 and runs in its own process. The upstream is nginx with one worker "
        "serving files from a temporary folder (the download is a sparse file, read from the page cache); "
        "requests under /slow/ go on to a small aiohttp server. "
        f"wrk runs one thread with {settings.connections} connections for {settings.seconds:g} s per measurement "
        f"({settings.injection_seconds:g} s in the injection section), bounded by a request count as well; "
        "p50 and p99 come from its `--latency` distribution. "
        f"TTFB is the median time from sending a GET to receiving the first response byte over {settings.ttfb_count} "
        "sequential requests on one keep-alive connection, from a raw-socket Python client, after 10 unmeasured ones. "
        "The download is fetched by curl into /dev/null. "
        "CPU µs/req is the proxy's user plus system time (/proc/PID/stat, summed over its processes) during the "
        "wrk run divided by the requests wrk completed. Peak RSS is VmHWM after resetting it before each "
        "measurement, summed over the proxy's processes; RSS growth is that peak minus the RSS before the download. "
        "Upstream CPU % is the upstream nginx's CPU time as a share of one core, to show it was not the bottleneck. "
        "MB is 10^6 bytes; KiB, MiB and GiB are powers of 1024.\n\n"
        "Guidegate is `guidegate run --config PATH` with one worker (or `--workers 2`), access log off, and the "
        "configuration built by `bench/guidegate.py` (visitor secret, event store, admin token, trusted proxies, "
        "injection on); the core bodies are application/octet-stream, so injection is configured but idle there. "
        "The bare forwarder is `bench/floor.py`: aiohttp streaming with nothing else. "
        "nginx runs one worker with a default `proxy_pass` (HTTP/1.0 upstream, a new upstream connection per request, "
        "proxy buffering on). mitmproxy is mitmdump in reverse mode with `stream_large_bodies=1m`. "
        "The injection section compares two Guidegate processes of its own, injection on and off. Both are started "
        "with the configuration above and serve only that section's requests. The third target is nginx `sub_filter` (one worker, "
        "default buffers, `Accept-Encoding` removed upstream, nginx's own gzip at its default level for clients that "
        "accept gzip), all requested as browser navigations."
    )


if __name__ == "__main__":
    sys.exit(main())
