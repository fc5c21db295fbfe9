"""A rule file as a whole: its app, locale, role hints, guides, workflows and features."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from proxy.ruleset.guides import Guide
from proxy.config.identity import parse_role
from proxy.ruleset.values import parse_locale
from proxy.ruleset.workflows import Feature, Workflow
from proxy.yamlbind import setting

_APP_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def parse_app_name(value: Any) -> str:
    """Check an app name as the deployment config writes it, such as 'erp'."""
    text = str(value)
    if not _APP_NAME.match(text):
        raise ValueError("expected an app name of lower-case letters, digits, '-' or '_', such as 'erp'")
    return text


@dataclass(frozen=True)
class RolesSection:
    """The role names of an app, so that a misspelt role in an audience is an error.

    How a user's roles are found (SSO headers, tokens, a map file, the app's pages, default roles)
    is configured in the deployment config's identity section, not here.
    """

    declared: tuple[str, ...] = setting(
        (), parse=parse_role, help="every role name of the app; other names in audiences are then errors"
    )


@dataclass(frozen=True)
class RuleFile:
    """One rule file. Any section may be left out."""

    app: str | None = setting(
        None, parse=parse_app_name, help="app these rules belong to; checked against the config's app that lists the file"
    )
    locale: str = setting("en", parse=parse_locale, help="locale of plain-string texts in this file, and the fallback")
    case_sensitive: bool | None = setting(
        None, help="whether paths match case-sensitively (default true; false for IIS-style apps); one value per app"
    )
    roles: RolesSection | None = setting(None, help="the app's declared role names")
    guides: tuple[Guide, ...] = setting((), help="guides: walkthrough, tip, hotspot, announcement, banner, checklist")
    workflows: tuple[Workflow, ...] = setting((), help="workflows whose runs are tracked")
    features: tuple[Feature, ...] = setting((), help="features whose use per role is counted")
