"""Configuration of visitor identity: visitor ids and cookies, and where users and roles come from."""

from __future__ import annotations

from dataclasses import dataclass

from proxy.config.values import DURATION_SCHEMA, parse_duration
from proxy.yamlbind import setting


@dataclass(frozen=True)
class VisitorConfig:
    """How visitors get pseudonymous ids."""

    secret: str | None = setting(
        None, help="key of the HMAC that turns user names into visitor ids; set it from ${ENV_VAR}"
    )
    cookie_name: str = setting("guidegate_vid", help="name of the random visitor cookie for anonymous visitors")
    cookie_max_age: float = setting(
        365 * 86400.0,
        parse=parse_duration,
        schema=DURATION_SCHEMA,
        help="lifetime of the visitor cookie, e.g. '365d'",
    )
