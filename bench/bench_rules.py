"""Rule benchmark: matching requests against 10,000 rules of 50 apps, and loading 1,000 rule files, each beside a baseline.

The matching baseline is a linear scan that tests every rule of every app in turn. The loading
baseline is the straightforward loader: the pure-Python YAML parser with the garbage collector
running, which is what the loader does without its two speed-ups.

Run alone with `.venv/bin/python -m bench.bench_rules [--quick]`; `run()` returns the figures as a
dict for the harness. Times are wall-clock unless named cpu; the system load average before and
after the run is reported because other processes on the machine inflate both.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from proxy.ruleset import RuleSet, load_rule_paths, load_rules
from proxy.ruleset import loader as rule_loader
from proxy.ruleset import source as rule_source
from proxy.ruleset.audience import AnyOf, Audience, Role
from proxy.ruleset.guides import Guide, Target
from proxy.ruleset.matcher import AppRules
from proxy.ruleset.compiled import CompiledRequest
from proxy.ruleset.patterns import RequestPattern, parse_path_pattern
from proxy.ruleset.source import RuleFileCache
from proxy.ruleset.workflows import Feature, Workflow, WorkflowStep

APPS = 50
RULES_PER_APP = 200
FILES = 1_000
ROLES = ("clerk", "buyer", "manager", "accountant", "admin")
MATCH_TARGET_MICROSECONDS = 20.0
LOAD_TARGET_SECONDS = 2.0


def _page_pattern(generator: random.Random, area: int, index: int) -> tuple[str, str]:
    """Return a page pattern of one of the usual shapes, and a path that it matches."""
    draw = generator.random()
    if draw < 0.4:
        return f"/m{area}/page{index}", f"/m{area}/page{index}"
    if draw < 0.7:
        return f"/m{area}/{{id:int}}/edit{index}", f"/m{area}/{generator.randrange(10**6)}/edit{index}"
    if draw < 0.85:
        return f"/m{area}/reports{index}/*", f"/m{area}/reports{index}/q{generator.randrange(9)}"
    if draw < 0.95:
        return f"re:^/m{area}/x{index}/[0-9]+$", f"/m{area}/x{index}/{generator.randrange(999)}"
    return f"/**/help{area}x{index}", f"/deep/{area}/help{area}x{index}"


def _audience(generator: random.Random) -> Audience:
    chosen = generator.sample(ROLES, generator.randint(1, 2))
    return Audience(AnyOf(tuple(Role(name) for name in chosen)))


def build_rules(seed: int = 7) -> tuple[RuleSet, list[tuple[str, str, str, tuple[str, ...]]]]:
    """Build APPS apps of RULES_PER_APP rules (60 % guides, 20 % workflows, 20 % features) in memory.

    Returns the rule set and sample requests (app, method, path, roles): half hit a rule, half miss.
    """
    generator = random.Random(seed)
    apps: dict[str, AppRules] = {}
    hits: list[tuple[str, str, str, tuple[str, ...]]] = []
    for app_index in range(APPS):
        name = f"app{app_index}"
        guides, workflows, features = [], [], []
        for index in range(RULES_PER_APP * 6 // 10):
            source, path = _page_pattern(generator, index % 40, index)
            guides.append(
                Guide(
                    id=f"g{index}",
                    kind="tip",
                    title="Tip",
                    body="Body",
                    target=Target(("#field",)),
                    pages=(RequestPattern(parse_path_pattern(source)),),
                    audience=_audience(generator),
                )
            )
            hits.append((name, "GET", path, (generator.choice(ROLES),)))
        for index in range(RULES_PER_APP * 2 // 10):
            steps = []
            for step in range(3):
                source, path = _page_pattern(generator, index % 40, 1000 + index * 3 + step)
                steps.append(WorkflowStep(name=f"s{step}", path=parse_path_pattern(source), methods=("POST",)))
                hits.append((name, "POST", path, (generator.choice(ROLES),)))
            workflows.append(Workflow(id=f"w{index}", title="Workflow", steps=tuple(steps), audience=_audience(generator)))
        for index in range(RULES_PER_APP * 2 // 10):
            source, path = _page_pattern(generator, index % 40, 2000 + index)
            features.append(Feature(id=f"f{index}", title="Feature", requests=(RequestPattern(parse_path_pattern(source)),)))
            hits.append((name, "GET", path, (generator.choice(ROLES),)))
        apps[name] = AppRules(name, guides=guides, workflows=workflows, features=features)
    requests = []
    for _ in range(20_000):
        app, method, path, roles = generator.choice(hits)
        if generator.random() < 0.5:
            path = f"/m{generator.randrange(60)}/nothing/{generator.randrange(10**6)}"
        requests.append((app, method, path, roles))
    return RuleSet(apps), requests


class LinearScan:
    """The matching baseline: every rule of every app in one list, each tested in turn."""

    def __init__(self, ruleset: RuleSet) -> None:
        self.entries: list[tuple[str, str, CompiledRequest, Audience]] = []
        for name, rules in ruleset.apps.items():
            for guide in rules.guides:
                for pattern in guide.pages:
                    self.entries.append((name, "guide", CompiledRequest(pattern, True), guide.audience))
            for workflow in rules.workflows:
                for step in workflow.steps:
                    compiled = CompiledRequest(None, True, path=step.path, methods=step.methods)
                    self.entries.append((name, "step", compiled, workflow.audience))
            for feature in rules.features:
                for pattern in feature.requests:
                    self.entries.append((name, "feature", CompiledRequest(pattern, True), feature.audience))

    def match(self, app: str, method: str, path: str, roles: frozenset[str]) -> list[tuple[str, dict[str, Any]]]:
        found = []
        for name, kind, compiled, audience in self.entries:
            if name != app:
                continue
            params = compiled.match(method, path, None)
            if params is not None and audience.matches(roles):
                found.append((kind, params))
        return found


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure_matching(requests_indexed: int, requests_linear: int) -> dict[str, float]:
    """Time guides_for_page plus match_request per request, and the linear scan of the same requests."""
    ruleset, requests = build_rules()
    for app, method, path, roles in requests[:2000]:
        # Warm up: regexes compile on first use.
        ruleset.guides_for_page(app, path, method=method, roles=roles)
        ruleset.match_request(app, path, method=method, roles=roles)
    timings = []
    clock = time.perf_counter_ns
    for app, method, path, roles in requests[:requests_indexed]:
        role_set = frozenset(roles)
        started = clock()
        ruleset.guides_for_page(app, path, method=method, roles=role_set)
        ruleset.match_request(app, path, method=method, roles=role_set)
        timings.append((clock() - started) / 1000)
    scan = LinearScan(ruleset)
    linear = []
    for app, method, path, roles in requests[:requests_linear]:
        role_set = frozenset(roles)
        started = clock()
        scan.match(app, method, path, role_set)
        linear.append((clock() - started) / 1000)
    return {
        "rules": float(ruleset.rule_count),
        "apps": float(len(ruleset.apps)),
        "match_p50_us": statistics.median(timings),
        "match_p99_us": _percentile(timings, 0.99),
        "match_linear_p50_us": statistics.median(linear),
        "match_linear_p99_us": _percentile(linear, 0.99),
        "match_speedup_p50": statistics.median(linear) / statistics.median(timings),
    }


def write_rule_files(folder: Path, files: int = FILES, seed: int = 11) -> int:
    """Write `files` rule files over APPS apps, 10 rules each; return the number of rules."""
    generator = random.Random(seed)
    rules = 0
    for number in range(files):
        app = f"app{number % APPS}"
        lines = [f"app: {app}", "guides:"]
        for index in range(6):
            identifier = f"g{number}-{index}"
            source, _ = _page_pattern(generator, index, number)
            roles = ", ".join(generator.sample(ROLES, 2))
            lines += [
                f"  - id: {identifier}",
                "    kind: walkthrough" if index == 0 else "    kind: tip",
                f"    title: {{en: Guide {identifier}, de: Hilfe {identifier}}}",
                f"    audience: [{roles}]",
                f"    pages: {{path: '{source}', methods: [GET, POST]}}",
            ]
            if index == 0:
                lines += [
                    "    steps:",
                    f"      - {{target: '#vendor{number}', body: Pick the vendor}}",
                    f"      - {{target: ['#save{number}', 'button[type=submit]'], body: Save, advance: {{page: '/m{number}/{{id:int}}'}}}}",
                ]
            else:
                lines += [f"    target: 'input[name=field{number}x{index}]'", "    body: A tip for this field."]
        lines.append("workflows:")
        for index in range(2):
            lines += [
                f"  - id: w{number}-{index}",
                "    title: A workflow",
                "    window: 30m",
                "    steps:",
                f"      - {{name: open, path: '/w{number}/{index}/new', methods: GET}}",
                f"      - name: submit\n        path: '/w{number}/{index}/new'\n        methods: POST\n        fields: [vendor]",
                f"        success: {{status: 302, redirect: '/w{number}/{{id:int}}'}}",
                "        failure: {body: {selector: '.errors li'}}",
            ]
        lines.append("features:")
        for index in range(2):
            lines += [f"  - {{id: f{number}-{index}, title: A feature, requests: '/f{number}/{index}/*'}}"]
        (folder / f"rules{number:04d}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
        rules += 10
    return rules


@contextlib.contextmanager
def _straightforward_loader() -> Iterator[None]:
    """Run the loader as it would be without its speed-ups: the pure-Python parser, the collector on."""
    parser, pause = rule_source._CLoader, rule_loader._gc_paused
    rule_source._CLoader = None
    rule_loader._gc_paused = contextlib.nullcontext  # type: ignore[assignment]
    try:
        yield
    finally:
        rule_source._CLoader, rule_loader._gc_paused = parser, pause


def measure_loading(files: int, baseline: bool) -> dict[str, float]:
    """Time loading and validating `files` rule files, the first load in this process and the best of three."""
    with tempfile.TemporaryDirectory(prefix="guidegate-bench-rules-") as name:
        folder = Path(name)
        rules = write_rule_files(folder, files)
        started, cpu = time.perf_counter(), time.process_time()
        ruleset = load_rule_paths([folder])
        first, first_cpu = time.perf_counter() - started, time.process_time() - cpu
        repeats = []
        for _ in range(3):
            started, cpu = time.perf_counter(), time.process_time()
            load_rule_paths([folder])
            repeats.append((time.perf_counter() - started, time.process_time() - cpu))
        figures = {
            "load_files": float(files),
            "load_rules": float(rules),
            "load_first_seconds": first,
            "load_first_cpu_seconds": first_cpu,
            "load_best_seconds": min(wall for wall, _ in repeats),
            "load_best_cpu_seconds": min(used for _, used in repeats),
        }
        if ruleset.rule_count != rules:
            raise RuntimeError(f"loaded {ruleset.rule_count} rules; expected {rules}")
        figures["reload_one_changed_seconds"] = _reload_one_changed(folder)
        if baseline:
            with _straightforward_loader():
                started = time.perf_counter()
                load_rule_paths([folder])
                figures["load_baseline_seconds"] = time.perf_counter() - started
    return figures


def _reload_one_changed(folder: Path) -> float:
    """Time a reload through a cache, as the rule watcher does, after one file changed."""
    sources: dict[str, list[Path]] = {f"app{index}": [] for index in range(APPS)}
    for path in sorted(folder.glob("*.yaml")):
        sources[f"app{int(path.stem[5:]) % APPS}"].append(path)
    cache = RuleFileCache()
    load_rules(sources, cache=cache)
    changed = folder / "rules0000.yaml"
    changed.write_text(changed.read_text(encoding="utf-8").replace("A tip for this field.", "A changed tip."), encoding="utf-8")
    started = time.perf_counter()
    load_rules(sources, cache=cache)
    return time.perf_counter() - started


def run(quick: bool = False) -> dict[str, object]:
    """Run both measurements and return the figures; `quick` times fewer requests and skips the load baseline."""
    figures: dict[str, object] = {"load_average_before": os.getloadavg()[0]}
    figures.update(measure_matching(5_000 if quick else 20_000, 200 if quick else 1_000))
    figures.update(measure_loading(FILES, baseline=not quick))
    figures["match_target_us"] = MATCH_TARGET_MICROSECONDS
    figures["load_target_seconds"] = LOAD_TARGET_SECONDS
    figures["gc_enabled_after"] = gc.isenabled()
    figures["load_average_after"] = os.getloadavg()[0]
    figures["cpus"] = float(os.cpu_count() or 0)
    return figures


def print_table(figures: dict[str, object]) -> None:
    """Print the figures as a two-column table."""
    width = max(len(name) for name in figures)
    for name, value in figures.items():
        if isinstance(value, bool):
            text = str(value).lower()
        elif isinstance(value, float):
            text = f"{value:,.0f}" if value >= 100 else f"{value:.3f}"
        else:
            text = str(value)
        print(f"{name:<{width}}  {text:>14}")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments, run the benchmark and print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench_rules", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="time fewer requests and skip the loading baseline")
    arguments = parser.parse_args(argv)
    print_table(run(quick=arguments.quick))
    return 0


if __name__ == "__main__":
    sys.exit(main())
