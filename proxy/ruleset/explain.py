"""Explanations for `guidegate match`: what applies to a request, and the condition that failed for the rest."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from proxy.ruleset.matcher import AppRules, GuideMatch, Origin, RequestMatch, resolve_now, step_segments
from proxy.ruleset.compiled import CompiledRequest
from proxy.ruleset.patterns import RequestPattern

MissKind = Literal["guide", "step", "exclusion", "feature"]


@dataclass(frozen=True)
class Miss:
    """A rule that does not apply, with the first condition that failed.

    `near` is true when the path matched (or matched but for a parameter's type), so the failed
    condition is something other than the URL's shape.
    """

    kind: MissKind
    name: str
    reason: str
    near: bool
    origin: Origin | None


@dataclass(frozen=True)
class Explanation:
    """The result of matching one request: the rules that apply, and why the others do not."""

    guides: tuple[GuideMatch, ...]
    request: RequestMatch
    misses: tuple[Miss, ...]

    @property
    def near_misses(self) -> tuple[Miss, ...]:
        return tuple(miss for miss in self.misses if miss.near)


def explain(
    rules: AppRules,
    path: str,
    *,
    method: str = "GET",
    query: Mapping[str, str] | None = None,
    roles: Collection[str] = (),
    attributes: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> Explanation:
    """Match a request against every rule of an app, one by one, saying why each miss missed.

    This scans every rule and is meant for the command line and diagnostics, not the request path.
    """
    role_set = frozenset(roles)
    instant = resolve_now(now)
    guides = rules.guides_for_page(path, method=method, query=query, roles=role_set, attributes=attributes, now=instant)
    request = rules.match_request(path, method=method, query=query, roles=role_set, attributes=attributes)
    matched_guides = {match.guide.id for match in guides}
    misses: list[Miss] = []

    for guide in rules.guides:
        if guide.id in matched_guides:
            continue
        # Walkthrough steps after an `advance: {page: ...}` show on other pages than the guide's own.
        patterns = tuple(pattern for segment in step_segments(guide) for pattern in segment[2])
        reason = _first_failure(rules, patterns, method, path, query)
        if reason is None:
            audience = guide.audience.explain(role_set, attributes)
            schedule = guide.schedule.explain(instant) if guide.schedule is not None else None
            reason = (audience or schedule or "does not apply", True)
        misses.append(Miss("guide", guide.id, reason[0], reason[1], rules.origins.get(("guide", guide.id))))

    matched_steps = {(match.workflow.id, match.index) for match in request.steps}
    matched_exclusions = {(match.workflow.id, match.index) for match in request.abandons}
    for workflow in rules.workflows:
        origin = rules.origins.get(("workflow", workflow.id))
        for index, step in enumerate(workflow.steps):
            if (workflow.id, index) in matched_steps:
                continue
            compiled = CompiledRequest(None, rules.case_sensitive, path=step.path, methods=step.methods, query=step.query)
            failed = compiled.explain(method, path, query)
            if failed is None:
                failed = (workflow.audience.explain(role_set, attributes) or "does not apply", True)
            name = f"{workflow.id}/{step.name}"
            misses.append(Miss("step", name, failed[0], failed[1], rules.origins.get(("step", name), origin)))
        for index, exclusion in enumerate(workflow.exclusions):
            if (workflow.id, index) in matched_exclusions:
                continue
            compiled = CompiledRequest(
                None, rules.case_sensitive, path=exclusion.path, methods=exclusion.methods, query=exclusion.query
            )
            failed = compiled.explain(method, path, query)
            if failed is None:
                failed = (workflow.audience.explain(role_set, attributes) or "does not apply", True)
            name = f"{workflow.id}/{exclusion.name}"
            misses.append(Miss("exclusion", name, failed[0], failed[1], rules.origins.get(("exclusion", name), origin)))

    matched_features = {match.feature.id for match in request.features}
    for feature in rules.features:
        if feature.id in matched_features:
            continue
        reason = _first_failure(rules, feature.requests, method, path, query)
        if reason is None:
            reason = (feature.audience.explain(role_set, attributes) or "does not apply", True)
        misses.append(Miss("feature", feature.id, reason[0], reason[1], rules.origins.get(("feature", feature.id))))
    return Explanation(guides, request, tuple(misses))


def _first_failure(
    rules: AppRules, patterns: tuple[RequestPattern, ...], method: str, path: str, query: Mapping[str, str] | None
) -> tuple[str, bool] | None:
    """Return the failure of the closest pattern, or None when one pattern matches."""
    failures = []
    for pattern in patterns:
        failed = CompiledRequest(pattern, rules.case_sensitive).explain(method, path, query)
        if failed is None:
            return None
        failures.append(failed)
    near = [failure for failure in failures if failure[1]]
    if near:
        return near[0]
    if len(failures) == 1:
        return failures[0]
    listed = ", ".join(pattern.path.source for pattern in patterns)
    return f"path {path} matches none of [{listed}]", False
