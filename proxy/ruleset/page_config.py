"""The per-page guide config that the browser runtime receives: the guides that apply, as plain JSON data."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from proxy.ruleset.guides import Guide, Step, Target
from proxy.ruleset.matcher import AppRules, RuleSet
from proxy.ruleset.values import Text, text_variants

PAGE_CONFIG_VERSION = 1


def page_config(
    ruleset: RuleSet,
    app: str,
    url: str,
    method: str = "GET",
    roles: Collection[str] = (),
    now: datetime | None = None,
    *,
    attributes: Mapping[str, str] | None = None,
    completed_workflows: Collection[str] = (),
) -> dict[str, Any]:
    """Build the JSON-serialisable guide config of one page for one user.

    `url` is the path (with an optional query string) as the app receives it, without the app's
    path_prefix; it is percent-decoded here, as rules match decoded paths. Only what the browser needs is included: no workflow or feature patterns, no
    audience expressions. `completed_workflows` ticks checklist items. The shape is documented in
    docs/rules.md ("Page config for the runtime").
    """
    parts = urlsplit(url)
    path = unquote(parts.path) or "/"
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    rules = ruleset.apps.get(app)
    guides: list[dict[str, Any]] = []
    if rules is not None:
        done = frozenset(completed_workflows)
        for match in rules.guides_for_page(path, method=method, query=query, roles=roles, attributes=attributes, now=now):
            entry = dict(_static(rules, match.guide))
            entry["params"] = dict(match.params)
            entry["starts_here"] = match.starts_here
            entry["steps_here"] = list(match.steps_here)
            entry["advanced_here"] = list(match.advanced_here)
            if match.guide.kind == "checklist":
                entry["items"] = [dict(item, done=item["workflow"] in done) for item in entry["items"]]
            guides.append(entry)
    return {"version": PAGE_CONFIG_VERSION, "app": app, "path": path, "guides": guides}


def _static(rules: AppRules, guide: Guide) -> dict[str, Any]:
    """Return the part of a guide's config that does not depend on the page, built once per rule set."""
    key = ("page_config", guide.id)
    cached = rules.memo.get(key)
    if cached is None:
        cached = guide_json(guide, rules.locales.get(guide.id, "en"))
        rules.memo[key] = cached
    return cached


def guide_json(guide: Guide, locale: str) -> dict[str, Any]:
    """Describe a guide for the runtime, with every text as a mapping locale -> string."""
    schedule = None
    if guide.schedule is not None:
        starts, ends = guide.schedule.starts_at, guide.schedule.ends_at
        schedule = {
            "from": starts.isoformat() if starts is not None else None,
            "until": ends.isoformat() if ends is not None else None,
        }
    data: dict[str, Any] = {
        "id": guide.id,
        "kind": guide.kind,
        "locale": locale,
        "title": _texts(guide.title, locale),
        "priority": guide.priority,
        "trigger": _trigger(guide),
        "frequency": _frequency(guide),
        "schedule": schedule,
        "elements": {"present": list(guide.elements.present), "absent": list(guide.elements.absent)},
        "dismissible": guide.dismissible,
        "help_menu": guide.help_menu,
        "workflows": list(guide.workflows),
    }
    if guide.kind == "walkthrough":
        data["on_missing"] = guide.on_missing
        data["steps"] = [_step(step, guide.on_missing, locale) for step in guide.steps]
    if guide.kind in ("tip", "hotspot"):
        data["target"] = _target(guide.target)
        data["placement"] = guide.placement
    if guide.kind in ("tip", "hotspot", "announcement", "banner"):
        data["body"] = _texts(guide.body, locale)
    if guide.kind == "banner":
        data["position"] = guide.position
    if guide.kind == "checklist":
        data["items"] = [
            {"title": _texts(item.title, locale), "workflow": item.workflow, "guide": item.guide, "link": item.link}
            for item in guide.items
        ]
    data["revision"] = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]
    return data


def _texts(text: Text | None, locale: str) -> dict[str, str] | None:
    return None if text is None else text_variants(text, locale)


def _target(target: Target | None) -> dict[str, Any] | None:
    if target is None:
        return None
    found: dict[str, Any] = {"selectors": list(target.selector), "text": target.text, "frame": target.frame}
    if target.wait is not None:
        found["wait"] = target.wait
    return found


def _step(step: Step, on_missing: str, locale: str) -> dict[str, Any]:
    return {
        "title": _texts(step.title, locale),
        "body": _texts(step.body, locale),
        "target": _target(step.target),
        "placement": step.placement,
        "advance": step.advance.mode,
        "on_missing": step.on_missing or on_missing,
    }


def _trigger(guide: Guide) -> dict[str, Any]:
    trigger = guide.trigger
    if trigger.mode == "element":
        return {"mode": "element", "selector": trigger.selector, "event": trigger.event}
    return {"mode": trigger.mode}


def _frequency(guide: Guide) -> dict[str, Any]:
    frequency = guide.frequency
    if frequency.mode == "max_times":
        return {"mode": "max_times", "max_times": frequency.max_times}
    return {"mode": frequency.mode}
