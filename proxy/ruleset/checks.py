"""Checks that binding alone cannot make: per-kind keys, texts, references, duplicate ids and roles."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from difflib import get_close_matches

from proxy.errors import Problem
from proxy.ruleset.audience import Audience
from proxy.ruleset.guides import Guide
from proxy.ruleset.source import BoundFile, PathKey
from proxy.ruleset.values import Text, is_locale

KIND_KEYS: dict[str, tuple[str, ...]] = {
    "walkthrough": ("steps", "on_missing"),
    "tip": ("body", "target", "placement"),
    "hotspot": ("body", "target", "placement"),
    "announcement": ("body",),
    "banner": ("body", "position"),
    "checklist": ("items",),
}
_KIND_SPECIFIC_KEYS = tuple(dict.fromkeys(key for keys in KIND_KEYS.values() for key in keys))
KIND_REQUIRED: dict[str, tuple[str, ...]] = {
    "walkthrough": ("steps",),
    "tip": ("target", "body"),
    "hotspot": ("target", "body"),
    "announcement": ("body",),
    "banner": ("body",),
    "checklist": ("items",),
}


def check_file(bound: BoundFile) -> list[Problem]:
    """Run the checks that concern one file alone."""
    problems: list[Problem] = []
    rules = bound.rules
    for index, guide in enumerate(rules.guides):
        problems.extend(_check_guide(bound, index, guide))
    for index, workflow in enumerate(rules.workflows):
        base: PathKey = ["workflows", index]
        if not workflow.steps:
            problems.append(bound.at(base + ["steps"], f"workflow '{workflow.id}' has no steps; expected at least one step"))
        seen: set[str] = set()
        for step_index, step in enumerate(workflow.steps):
            if step.name in seen:
                problems.append(
                    bound.at(base + ["steps", step_index, "name"], f"duplicate step name '{step.name}' in workflow '{workflow.id}'; expected each step name once")
                )
            seen.add(step.name)
        for exclusion_index, exclusion in enumerate(workflow.exclusions):
            if exclusion.name in seen:
                problems.append(
                    bound.at(
                        base + ["exclusions", exclusion_index, "name"],
                        f"name '{exclusion.name}' is used twice in workflow '{workflow.id}'; expected exclusion names "
                        "that differ from each other and from the step names",
                    )
                )
            seen.add(exclusion.name)
    for index, feature in enumerate(rules.features):
        if not feature.requests:
            problems.append(
                bound.at(["features", index, "requests"], f"feature '{feature.id}' has no requests; expected at least one request pattern")
            )
    return problems


def _check_guide(bound: BoundFile, index: int, guide: Guide) -> Iterator[Problem]:
    base: PathKey = ["guides", index]
    allowed = KIND_KEYS[guide.kind]
    written = bound.keys(base)
    for key in _KIND_SPECIFIC_KEYS:
        if key not in allowed and key in written:
            yield bound.at(
                base + [key],
                f"key '{key}' does not apply to a {guide.kind}; a {guide.kind} takes {_listing(allowed)}",
                key=True,
            )
    for key in KIND_REQUIRED[guide.kind]:
        if key not in written or getattr(guide, key) in ((), None):
            yield bound.at(base + ["kind"], f"a {guide.kind} needs '{key}'; {_needs(guide.kind, key)}")

    yield from _check_texts(bound, base, guide)
    for step_index, step in enumerate(guide.steps):
        if step.advance.mode in ("click", "change") and step.target is None:
            yield bound.at(
                base + ["steps", step_index, "advance"],
                f"advance {step.advance.mode} needs a target on this step; expected 'target:' or advance: button",
            )
    if guide.schedule is not None:
        starts, ends = guide.schedule.starts_at, guide.schedule.ends_at
        if starts is not None and ends is not None and ends <= starts:
            yield bound.at(
                base + ["schedule", "until"],
                f"schedule until {guide.schedule.until} is before from {guide.schedule.start}; expected 'until' on or after 'from'",
            )


def _listing(keys: Sequence[str]) -> str:
    quoted = [f"'{key}'" for key in keys]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _needs(kind: str, key: str) -> str:
    return {
        "steps": "expected a list of steps, each with a body and usually a target",
        "target": "expected the CSS selector of the element it points at",
        "body": "expected the text it shows",
        "items": "expected a list of items, each with a title and a workflow",
    }[key]


def _check_texts(bound: BoundFile, base: PathKey, guide: Guide) -> Iterator[Problem]:
    locale = bound.rules.locale
    texts: list[tuple[PathKey, Text | None]] = [(base + ["title"], guide.title), (base + ["body"], guide.body)]
    for step_index, step in enumerate(guide.steps):
        texts.append((base + ["steps", step_index, "title"], step.title))
        texts.append((base + ["steps", step_index, "body"], step.body))
    for item_index, item in enumerate(guide.items):
        texts.append((base + ["items", item_index, "title"], item.title))
    for path, text in texts:
        if not isinstance(text, dict):
            continue
        for variant in text:
            if not is_locale(variant):
                yield bound.at(path + [variant], f"invalid locale '{variant}'; expected a locale tag such as 'en', 'de' or 'pt-BR'", key=True)
        if locale not in text:
            yield bound.at(
                path,
                f"text has no '{locale}' variant (the file's locale); expected an entry for '{locale}', "
                "or 'locale:' at the top of the file naming a locale the text has",
            )


def check_app(app: str, files: Sequence[BoundFile], config_apps: frozenset[str] | None) -> list[Problem]:
    """Run the checks across the files of one app: ids, references, roles, app names and case."""
    problems: list[Problem] = []
    first: dict[tuple[str, str], tuple[BoundFile, PathKey]] = {}

    def claim(section: str, identifier: str, bound: BoundFile, path: PathKey) -> None:
        key = (section, identifier)
        if key in first:
            earlier, earlier_path = first[key]
            where = earlier.at(earlier_path, "")
            noun = section.rstrip("s")
            problems.append(
                bound.at(
                    path,
                    f"duplicate {noun} id '{identifier}' in app '{app}'; first defined at "
                    f"{where.file}:{where.line}; expected each {noun} id once per app",
                )
            )
            return
        first[key] = (bound, path)

    for bound in files:
        for section in ("guides", "workflows", "features"):
            for index, rule in enumerate(getattr(bound.rules, section)):
                claim(section, rule.id, bound, [section, index, "id"])
        if bound.rules.app is not None and config_apps is not None and bound.rules.app != app:
            problems.append(
                bound.at(["app"], f"file says app '{bound.rules.app}' but is listed in the rules of app '{app}'; expected app: {app}")
            )

    problems.extend(_check_references(files, {key[1] for key in first if key[0] == "workflows"}, {key[1] for key in first if key[0] == "guides"}))
    problems.extend(_check_roles(app, files))
    problems.extend(_check_case(app, files))
    return problems


def _check_references(files: Sequence[BoundFile], workflows: set[str], guides: set[str]) -> Iterator[Problem]:
    for bound in files:
        for index, guide in enumerate(bound.rules.guides):
            base: PathKey = ["guides", index]
            for workflow_index, workflow in enumerate(guide.workflows):
                if workflow not in workflows:
                    yield bound.at(base + ["workflows", workflow_index], _unknown("workflow", workflow, workflows))
            for item_index, item in enumerate(guide.items):
                if item.workflow not in workflows:
                    yield bound.at(base + ["items", item_index, "workflow"], _unknown("workflow", item.workflow, workflows))
                if item.guide is not None and item.guide not in guides:
                    yield bound.at(base + ["items", item_index, "guide"], _unknown("guide", item.guide, guides))


def _unknown(noun: str, identifier: str, known: set[str]) -> str:
    close = get_close_matches(identifier, sorted(known), n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    listing = ", ".join(sorted(known)[:10]) if known else "none defined"
    return f"unknown {noun} '{identifier}'; expected the id of a {noun} of this app: {listing}{hint}"


def _audiences(bound: BoundFile) -> Iterator[tuple[PathKey, Audience]]:
    for section in ("guides", "workflows", "features"):
        for index, rule in enumerate(getattr(bound.rules, section)):
            yield [section, index, "audience"], rule.audience


def _check_roles(app: str, files: Sequence[BoundFile]) -> Iterator[Problem]:
    declared: set[str] = set()
    for bound in files:
        if bound.rules.roles is not None:
            declared.update(bound.rules.roles.declared)
    if not declared:
        return
    for bound in files:
        for _, audience in _audiences(bound):
            for written in audience.roles.role_names():
                if written.name not in declared:
                    yield Problem(bound.display, written.line, written.column, _undeclared(written.name, declared, app))


def _undeclared(role: str, declared: set[str], app: str) -> str:
    close = get_close_matches(role, sorted(declared), n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown role '{role}'; expected a role declared for app '{app}': {', '.join(sorted(declared))}{hint}"


def _check_case(app: str, files: Sequence[BoundFile]) -> Iterator[Problem]:
    chosen: tuple[bool, BoundFile] | None = None
    for bound in files:
        value = bound.rules.case_sensitive
        if value is None:
            continue
        if chosen is None:
            chosen = (value, bound)
        elif chosen[0] != value:
            yield bound.at(
                ["case_sensitive"],
                f"case_sensitive: {str(value).lower()} conflicts with case_sensitive: {str(chosen[0]).lower()} "
                f"in {chosen[1].display}; expected one value for app '{app}'",
            )


def app_case_sensitive(files: Sequence[BoundFile]) -> bool:
    """Return the app's case sensitivity: the value its files set, or true when none sets it."""
    for bound in files:
        if bound.rules.case_sensitive is not None:
            return bound.rules.case_sensitive
    return True
