"""Page configs and admin previews built from a rule set that may be swapped on reload."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from proxy.ruleset.matcher import RuleSet
from proxy.ruleset.page_config import guide_json, page_config
from proxy.runtime.context import RequestContext

CompletedWorkflows = Callable[[RequestContext], Collection[str]]
"""Return the ids of the workflows the context's visitor has completed, for checklist ticks."""


class RulesetPages:
    """The PageConfig and PreviewGuide callables of RuntimeEndpoints, over the current rule set.

    `ruleset` returns the rule set in force on each call, so a reload takes effect on the next
    request. `completed_workflows` ticks checklist items; without it every item shows as not done.
    `clock` returns the aware time that schedules are checked against (default: now).
    `path_prefix` returns the public path an app is mounted at (such as '/erp/'), which is cut
    from the browser's URL so that rules match the path that the app receives.
    """

    def __init__(
        self,
        ruleset: Callable[[], RuleSet],
        *,
        completed_workflows: CompletedWorkflows | None = None,
        clock: Callable[[], datetime] | None = None,
        path_prefix: Callable[[str], str] | None = None,
    ) -> None:
        self._ruleset = ruleset
        self._completed = completed_workflows
        self._clock = clock
        self._path_prefix = path_prefix

    def page_config(self, context: RequestContext, url: str, frame: str) -> dict[str, Any]:
        """Build the page config of `url` (as the browser shows it) for the context's roles; `frame` is not used yet."""
        return page_config(
            self._ruleset(),
            context.app,
            self.app_url(context.app, url),
            roles=context.roles,
            now=self._clock() if self._clock is not None else None,
            completed_workflows=self._completed(context) if self._completed is not None else (),
        )

    def app_url(self, app: str, url: str) -> str:
        """Cut the app's path prefix from a browser URL: '/erp/po/new' becomes '/po/new' for an app at '/erp/'."""
        prefix = self._path_prefix(app) if self._path_prefix is not None else "/"
        if prefix != "/" and url.startswith(prefix):
            return "/" + url[len(prefix) :]
        return url

    def preview_guide(self, context: RequestContext, guide_id: str) -> dict[str, Any] | None:
        """Describe one guide for a preview: every step shown on any page, audience and schedule ignored."""
        rules = self._ruleset().apps.get(context.app)
        guide = rules.guide(guide_id) if rules is not None else None
        if rules is None or guide is None:
            return None
        data = guide_json(guide, rules.locales.get(guide.id, "en"))
        data.update(params={}, starts_here=True, steps_here=list(range(len(guide.steps))), advanced_here=[])
        if guide.kind == "checklist":
            done = frozenset(self._completed(context)) if self._completed is not None else frozenset()
            data["items"] = [dict(item, done=item["workflow"] in done) for item in data["items"]]
        return data
