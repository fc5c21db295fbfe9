"""Recent rule matches of captured requests, so that a request shape seen before is not matched against the rules again."""

from __future__ import annotations

from collections import OrderedDict

from proxy.ruleset import RequestMatch
from proxy.ruleset.matcher import AppRules

MAX_SHAPES = 1024
"""Request shapes (path, method, query string) remembered per app; the least recently used is dropped first."""

MAX_AUDIENCES = 64
"""Role sets remembered per shape; when full, the shape's role sets are cleared and remembered anew."""

Shape = tuple[str, str, str]
"""(decoded path relative to the app, method, raw query string) of a request."""


class _Matched:
    """The match of one request shape made without roles, and its part for each role set seen."""

    __slots__ = ("candidates", "by_roles")

    def __init__(self, candidates: RequestMatch) -> None:
        self.candidates = candidates
        self.by_roles: dict[frozenset[str], RequestMatch] = {}


class MatchCache:
    """The rule matches of one app's recent request shapes, valid for one compiled rule set.

    Matching depends only on the rules, the path, the method and the query, so a cached match is
    the one `AppRules.match_request` would return. Only requests that match some rule are kept:
    the others cost little to match and would crowd out the ones that do. `for_rules` starts over
    when the rule set is reloaded. Use it from the event loop only.
    """

    def __init__(self, rules: AppRules, max_shapes: int = MAX_SHAPES) -> None:
        self.rules = rules
        self.max_shapes = max_shapes
        self._shapes: OrderedDict[Shape, _Matched] = OrderedDict()

    def __len__(self) -> int:
        return len(self._shapes)

    def candidates(self, shape: Shape) -> RequestMatch | None:
        """Return the cached match made without roles, or None when the shape is not cached."""
        matched = self._shapes.get(shape)
        if matched is None:
            return None
        self._shapes.move_to_end(shape)
        return matched.candidates

    def remember(self, shape: Shape, candidates: RequestMatch) -> None:
        """Keep the match of `shape`, dropping the least recently used shapes beyond `max_shapes`."""
        self._shapes[shape] = _Matched(candidates)
        while len(self._shapes) > self.max_shapes:
            self._shapes.popitem(last=False)

    def for_audience(self, shape: Shape, candidates: RequestMatch, roles: frozenset[str]) -> RequestMatch:
        """Return `for_audience(candidates, roles)`, computed once per cached shape and role set."""
        matched = self._shapes.get(shape)
        if matched is None or matched.candidates is not candidates:
            return for_audience(candidates, roles)
        match = matched.by_roles.get(roles)
        if match is None:
            match = for_audience(candidates, roles)
            if len(matched.by_roles) >= MAX_AUDIENCES:
                matched.by_roles.clear()
            matched.by_roles[roles] = match
        return match


def for_audience(match: RequestMatch, roles: frozenset[str]) -> RequestMatch:
    """Keep the parts of a match made without roles whose audience includes `roles`.

    The same check the matcher makes when given roles, applied afterwards so that identity is
    resolved only for requests that some rule names, and the rules are matched once.
    """
    steps = tuple(step for step in match.steps if step.workflow.audience.matches(roles)) if match.steps else ()
    features = (
        tuple(feature for feature in match.features if feature.feature.audience.matches(roles)) if match.features else ()
    )
    abandons = (
        tuple(abandon for abandon in match.abandons if abandon.workflow.audience.matches(roles)) if match.abandons else ()
    )
    if len(steps) == len(match.steps) and len(features) == len(match.features) and len(abandons) == len(match.abandons):
        return match
    return RequestMatch(steps, features, abandons)
