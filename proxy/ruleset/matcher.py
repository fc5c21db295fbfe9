"""The compiled rule set: which guides apply to a page, and which workflow step or feature a request is."""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from proxy.ruleset.guides import Guide
from proxy.ruleset.index import PathIndex
from proxy.ruleset.compiled import CompiledRequest
from proxy.ruleset.patterns import RequestPattern, parse_path_pattern
from proxy.ruleset.workflows import Exclusion, Feature, Workflow, WorkflowStep

EVERY_PAGE = RequestPattern(parse_path_pattern("/**"))


@dataclass(frozen=True)
class Origin:
    """The file position of a rule, for messages and for `guidegate match`.

    AppRules.origins maps ("guide" | "workflow" | "feature", id) and ("step" | "exclusion",
    "workflow-id/name") to origins.
    """

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class GuideMatch:
    """A guide that applies to a page.

    `starts_here` is true when the page matches the guide's `pages`. `steps_here` lists the
    walkthrough steps shown on this page: a step after an `advance: {page: ...}` shows on the pages
    that pattern matches, so a guide may apply only to continue a walkthrough started elsewhere.
    `advanced_here` lists the steps whose `advance: {page: ...}` pattern matches this page.
    """

    guide: Guide
    params: Mapping[str, Any]
    starts_here: bool
    steps_here: tuple[int, ...]
    advanced_here: tuple[int, ...] = ()


@dataclass(frozen=True)
class StepMatch:
    """A request that is a step of a workflow; `fields` on the step are checked later, on the body."""

    workflow: Workflow
    index: int
    params: Mapping[str, Any]

    @property
    def step(self) -> WorkflowStep:
        return self.workflow.steps[self.index]

    @property
    def needs_fields(self) -> bool:
        """Whether the match holds only if the submitted form carries the step's `fields`."""
        return bool(self.step.fields)


@dataclass(frozen=True)
class FeatureMatch:
    """A request that is a use of a feature."""

    feature: Feature
    params: Mapping[str, Any]


@dataclass(frozen=True)
class AbandonMatch:
    """A request that ends a run of a workflow as abandoned: one of the workflow's exclusions."""

    workflow: Workflow
    index: int
    params: Mapping[str, Any]

    @property
    def exclusion(self) -> Exclusion:
        return self.workflow.exclusions[self.index]


@dataclass(frozen=True)
class RequestMatch:
    """Everything a request is: workflow steps, feature uses and abandon markers (often all empty)."""

    steps: tuple[StepMatch, ...] = ()
    features: tuple[FeatureMatch, ...] = ()
    abandons: tuple[AbandonMatch, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.steps or self.features or self.abandons)


NO_MATCH = RequestMatch()


@dataclass(frozen=True)
class _PageEntry:
    guide: int
    request: CompiledRequest
    first_step: int
    last_step: int
    advanced: int


@dataclass(frozen=True)
class _RequestEntry:
    kind: Literal["step", "feature", "abandon"]
    owner: int
    step: int
    request: CompiledRequest


class _PageState:
    __slots__ = ("params", "starts", "steps", "advanced")

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params
        self.starts = False
        self.steps: set[int] = set()
        self.advanced: set[int] = set()


def resolve_now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    return now if now.tzinfo is not None else now.replace(tzinfo=timezone.utc)


class AppRules:
    """The compiled rules of one app. Immutable once built; share it freely between requests."""

    def __init__(
        self,
        name: str,
        *,
        guides: Sequence[Guide] = (),
        workflows: Sequence[Workflow] = (),
        features: Sequence[Feature] = (),
        case_sensitive: bool = True,
        declared_roles: frozenset[str] = frozenset(),
        origins: Mapping[tuple[str, str], Origin] | None = None,
        locales: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.case_sensitive = case_sensitive
        order = sorted(range(len(guides)), key=lambda index: -guides[index].priority)
        self.guides: tuple[Guide, ...] = tuple(guides[index] for index in order)
        self.workflows: tuple[Workflow, ...] = tuple(workflows)
        self.features: tuple[Feature, ...] = tuple(features)
        self.declared_roles = declared_roles
        self.origins: Mapping[tuple[str, str], Origin] = MappingProxyType(dict(origins or {}))
        self.locales: Mapping[str, str] = MappingProxyType(dict(locales or {}))
        self.memo: dict[object, Any] = {}
        """Data derived from the immutable rules on first use, e.g. each guide's browser JSON."""
        self._guide_by_id = {guide.id: guide for guide in self.guides}
        self._workflow_by_id = {workflow.id: workflow for workflow in self.workflows}
        self._pages: PathIndex[_PageEntry] = PathIndex(self._page_entries(), case_sensitive)
        self._requests: PathIndex[_RequestEntry] = PathIndex(self._request_entries(), case_sensitive)

    def _page_entries(self) -> list[tuple[Any, _PageEntry]]:
        entries = []
        for index, guide in enumerate(self.guides):
            for first, last, patterns, advanced in step_segments(guide):
                for pattern in patterns:
                    compiled = CompiledRequest(pattern, self.case_sensitive)
                    entries.append((compiled.path, _PageEntry(index, compiled, first, last, advanced)))
        return entries

    def _request_entries(self) -> list[tuple[Any, _RequestEntry]]:
        entries = []
        for owner, workflow in enumerate(self.workflows):
            for step_index, step in enumerate(workflow.steps):
                compiled = CompiledRequest(
                    None, self.case_sensitive, path=step.path, methods=step.methods, query=step.query
                )
                entries.append((compiled.path, _RequestEntry("step", owner, step_index, compiled)))
            for exclusion_index, exclusion in enumerate(workflow.exclusions):
                compiled = CompiledRequest(
                    None, self.case_sensitive, path=exclusion.path, methods=exclusion.methods, query=exclusion.query
                )
                entries.append((compiled.path, _RequestEntry("abandon", owner, exclusion_index, compiled)))
        for owner, feature in enumerate(self.features):
            for pattern in feature.requests:
                compiled = CompiledRequest(pattern, self.case_sensitive)
                entries.append((compiled.path, _RequestEntry("feature", owner, -1, compiled)))
        return entries

    def guide(self, identifier: str) -> Guide | None:
        return self._guide_by_id.get(identifier)

    def workflow(self, identifier: str) -> Workflow | None:
        return self._workflow_by_id.get(identifier)

    def feature(self, identifier: str) -> Feature | None:
        return next((feature for feature in self.features if feature.id == identifier), None)

    def guides_for_page(
        self,
        path: str,
        *,
        method: str = "GET",
        query: Mapping[str, str] | None = None,
        roles: Collection[str] = (),
        attributes: Mapping[str, str] | None = None,
        now: datetime | None = None,
    ) -> tuple[GuideMatch, ...]:
        """Return the guides that apply to a page for a user, highest priority first."""
        hits = self._pages.lookup(path)
        if not hits:
            return ()
        role_set = roles if isinstance(roles, frozenset) else frozenset(roles)
        found: dict[int, _PageState] = {}
        for entry, params in hits:
            if not entry.request.matches_rest(method, query):
                continue
            state = found.get(entry.guide)
            if state is None:
                state = found[entry.guide] = _PageState(params)
            if entry.advanced < 0 and not state.starts:
                state.starts = True
                state.params = params
            if entry.advanced >= 0:
                state.advanced.add(entry.advanced)
            state.steps.update(range(entry.first_step, entry.last_step + 1))
        instant: datetime | None = None
        result = []
        for index in sorted(found):
            guide = self.guides[index]
            if not guide.audience.matches(role_set, attributes):
                continue
            if guide.schedule is not None:
                instant = instant or resolve_now(now)
                if guide.schedule.explain(instant) is not None:
                    continue
            state = found[index]
            result.append(GuideMatch(guide, state.params, state.starts, tuple(sorted(state.steps)), tuple(sorted(state.advanced))))
        return tuple(result)

    def match_request(
        self,
        path: str,
        *,
        method: str = "GET",
        query: Mapping[str, str] | None = None,
        roles: Collection[str] | None = None,
        attributes: Mapping[str, str] | None = None,
    ) -> RequestMatch:
        """Return the workflow steps, features and abandon markers a request is.

        With `roles` None the audiences are not checked (the caller filters later).
        """
        hits = self._requests.lookup(path)
        if not hits:
            return NO_MATCH
        role_set: frozenset[str] | None = None
        if roles is not None:
            role_set = roles if isinstance(roles, frozenset) else frozenset(roles)
        steps: list[StepMatch] = []
        features: list[FeatureMatch] = []
        abandons: list[AbandonMatch] = []
        for entry, params in hits:
            if not entry.request.matches_rest(method, query):
                continue
            if entry.kind == "feature":
                feature = self.features[entry.owner]
                if role_set is None or feature.audience.matches(role_set, attributes):
                    features.append(FeatureMatch(feature, params))
                continue
            workflow = self.workflows[entry.owner]
            if role_set is not None and not workflow.audience.matches(role_set, attributes):
                continue
            if entry.kind == "step":
                steps.append(StepMatch(workflow, entry.step, params))
            else:
                abandons.append(AbandonMatch(workflow, entry.step, params))
        if not (steps or features or abandons):
            return NO_MATCH
        return RequestMatch(tuple(steps), tuple(features), tuple(abandons))


def step_segments(guide: Guide) -> list[tuple[int, int, tuple[RequestPattern, ...], int]]:
    """Split a guide into (first step, last step, page patterns, advanced step) segments.

    The first segment covers the guide's `pages` (every page when omitted) and has no advanced
    step (-1). Each step that advances on a page load starts a new segment, which shows on the
    pages that its pattern matches and has that step as its advanced step. After the last step, the
    segment's step range is empty.
    """
    segments = []
    first = 0
    advanced = -1
    patterns: tuple[RequestPattern, ...] = guide.pages or (EVERY_PAGE,)
    for index, step in enumerate(guide.steps):
        page = step.advance.page
        if step.advance.mode == "page" and page is not None:
            segments.append((first, index, patterns, advanced))
            first, patterns, advanced = index + 1, (page,), index
    segments.append((first, len(guide.steps) - 1, patterns, advanced))
    return segments


class RuleSet:
    """Every app's compiled rules, built by the loader. Immutable; swap a whole RuleSet to reload."""

    def __init__(
        self,
        apps: Mapping[str, AppRules],
        *,
        files: Sequence[str] = (),
        watched: Sequence[Path] = (),
        loaded_at: float | None = None,
    ) -> None:
        self.apps: Mapping[str, AppRules] = MappingProxyType(dict(apps))
        self.files: tuple[str, ...] = tuple(files)
        self.watched: tuple[Path, ...] = tuple(watched)
        self.loaded_at = time.time() if loaded_at is None else loaded_at

    def app(self, name: str) -> AppRules | None:
        return self.apps.get(name)

    @property
    def rule_count(self) -> int:
        """Guides, workflows and features over every app."""
        return sum(len(app.guides) + len(app.workflows) + len(app.features) for app in self.apps.values())

    def guides_for_page(
        self,
        app: str,
        path: str,
        *,
        method: str = "GET",
        query: Mapping[str, str] | None = None,
        roles: Collection[str] = (),
        attributes: Mapping[str, str] | None = None,
        now: datetime | None = None,
    ) -> tuple[GuideMatch, ...]:
        """Return the guides of `app` that apply to a page; none for an app without rules."""
        rules = self.apps.get(app)
        if rules is None:
            return ()
        return rules.guides_for_page(path, method=method, query=query, roles=roles, attributes=attributes, now=now)

    def match_request(
        self,
        app: str,
        path: str,
        *,
        method: str = "GET",
        query: Mapping[str, str] | None = None,
        roles: Collection[str] | None = None,
        attributes: Mapping[str, str] | None = None,
    ) -> RequestMatch:
        """Return what a request to `app` is (steps, features, abandon markers); empty for unknown apps."""
        rules = self.apps.get(app)
        if rules is None:
            return NO_MATCH
        return rules.match_request(path, method=method, query=query, roles=roles, attributes=attributes)


EMPTY_RULESET = RuleSet({})
