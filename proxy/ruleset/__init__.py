"""Rule files: the model, a loader with positioned errors, the compiled matcher and a reloading watcher."""

from proxy.ruleset.loader import DEFAULT_APP, display_path, load_rule_paths, load_rules, sources_from_config
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

__all__ = [
    "DEFAULT_APP",
    "EMPTY_RULESET",
    "AbandonMatch",
    "AppRules",
    "FeatureMatch",
    "GuideMatch",
    "Origin",
    "RequestMatch",
    "RuleSet",
    "StepMatch",
    "display_path",
    "load_rule_paths",
    "load_rules",
    "sources_from_config",
]
