"""The facts about an app's workflows, features and guides that the reports need, and their source.

The reports take these small dataclasses instead of the rule model, so they can be tested and
benchmarked alone. `load_specs` is the one place that turns an app's rules into them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from proxy.config import App, Config
from proxy.ruleset import RuleSet, load_rules, sources_from_config

Order = Literal["ordered", "strict"]


@dataclass(frozen=True)
class WorkflowSpec:
    """A workflow as the run analysis reads it.

    `steps` are step ids in order. With order 'ordered', other requests may come between two
    steps, and a step counts only after the ones before it. With 'strict', the next workflow step
    the visitor takes must be the next step of the run or a repeat of the current one. A step in
    `exclusions` (a cancel button, say) ends the visitor's run as abandoned.
    """

    id: str
    title: str
    steps: tuple[str, ...]
    order: Order = "ordered"
    window_seconds: float = 3600.0
    exclusions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError(f"workflow '{self.id}' has no steps; expected at least one")
        if len(set(self.steps)) != len(self.steps):
            raise ValueError(f"workflow '{self.id}' lists a step twice; expected each step id once")
        shared = set(self.steps) & set(self.exclusions)
        if shared:
            raise ValueError(
                f"workflow '{self.id}' has '{sorted(shared)[0]}' both as a step and as an exclusion; expected one or the other"
            )
        if self.order not in ("ordered", "strict"):
            raise ValueError(f"workflow '{self.id}' has order '{self.order}'; expected 'ordered' or 'strict'")
        if not self.window_seconds > 0:
            raise ValueError(f"workflow '{self.id}' has window {self.window_seconds}s; expected more than 0")


@dataclass(frozen=True)
class FeatureSpec:
    """A tracked feature: its `feature` events carry this id as their name."""

    id: str
    title: str


@dataclass(frozen=True)
class GuideSpec:
    """A guide; `workflows` are the ids of the workflows it is meant to help with."""

    id: str
    title: str
    workflows: tuple[str, ...] = ()


@dataclass(frozen=True)
class Specs:
    """Everything the reports of one app are about."""

    workflows: tuple[WorkflowSpec, ...] = ()
    features: tuple[FeatureSpec, ...] = ()
    guides: tuple[GuideSpec, ...] = ()


SpecsLoader = Callable[[Config, App], Specs]
"""Builds the Specs of one app from the deployment configuration (and the app's rule files)."""


def load_specs(config: Config, app: App) -> Specs:
    """Return the workflows, features and guides of `app` for the reports, read from its rule files.

    Raises InvalidFileError when the app's rule files are invalid.
    """
    return specs_from_rules(load_rules(sources_from_config(config)), app.name)


def specs_from_rules(ruleset: RuleSet, app: str) -> Specs:
    """Map the rule model of one app to the report specs; an app without rules has empty specs."""
    rules = ruleset.app(app)
    if rules is None:
        return Specs()
    locale = "en"
    workflows = tuple(
        WorkflowSpec(
            id=workflow.id,
            title=workflow.title,
            steps=tuple(step.name for step in workflow.steps),
            order=workflow.order,
            window_seconds=workflow.window,
            exclusions=tuple(exclusion.name for exclusion in workflow.exclusions),
        )
        for workflow in rules.workflows
    )
    features = tuple(FeatureSpec(id=feature.id, title=feature.title) for feature in rules.features)
    guides = tuple(
        GuideSpec(id=guide.id, title=_plain_text(guide.title, rules.locales.get(guide.id, locale)), workflows=guide.workflows)
        for guide in rules.guides
    )
    return Specs(workflows=workflows, features=features, guides=guides)


def _plain_text(text: str | dict[str, str], locale: str) -> str:
    """Pick one variant of a rule text for a report: the default locale's, else the first."""
    if isinstance(text, str):
        return text
    return text.get(locale) or next(iter(text.values()), "")
