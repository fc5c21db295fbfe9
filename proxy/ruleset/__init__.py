"""Rule files: the model, a loader with positioned errors, the compiled matcher and a reloading watcher."""

from proxy.ruleset.explain import Explanation, Miss, explain
from proxy.ruleset.loader import (
    DEFAULT_APP,
    load_rule_paths,
    load_rules,
    rule_path_positions,
    sources_from_config,
)
from proxy.ruleset.matcher import (
    EMPTY_RULESET,
    AbandonMatch,
    AppRules,
    FeatureMatch,
    GuideMatch,
    Origin,
    RequestMatch,
    RuleSet,
    StepMatch,
)
from proxy.ruleset.outcome import classify_response, needs_body
from proxy.ruleset.page_config import page_config
from proxy.ruleset.schema import rules_json_schema
from proxy.ruleset.source import RuleFileCache, display_path
from proxy.ruleset.watcher import RuleStats, RuleWatcher

__all__ = [
    "DEFAULT_APP",
    "EMPTY_RULESET",
    "AbandonMatch",
    "AppRules",
    "Explanation",
    "FeatureMatch",
    "GuideMatch",
    "Miss",
    "Origin",
    "RequestMatch",
    "RuleFileCache",
    "RuleSet",
    "RuleStats",
    "RuleWatcher",
    "StepMatch",
    "classify_response",
    "display_path",
    "explain",
    "load_rule_paths",
    "load_rules",
    "needs_body",
    "page_config",
    "rule_path_positions",
    "rules_json_schema",
    "sources_from_config",
]
