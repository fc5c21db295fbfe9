"""Configuration of the HTML injection: when to splice the runtime in and how far to look for the spot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from proxy.config.values import SIZE_SCHEMA, parse_size
from proxy.yamlbind import setting


@dataclass(frozen=True)
class InjectConfig:
    """Settings for splicing the guide runtime into this app's HTML documents."""

    enabled: bool = setting(True, help="splice the guide runtime into HTML documents")
    statuses: tuple[int, ...] = setting((200,), help="response statuses whose documents get the runtime")
    lookahead: int = setting(
        64 * 1024,
        parse=parse_size,
        schema=SIZE_SCHEMA,
        minimum=1024,
        help="bytes of a document searched for the insertion point before falling back, e.g. '64KiB' "
        "(at least 1024, the window browsers prescan for a <meta> charset)",
    )
    csp: Literal["respect", "amend"] = setting(
        "respect",
        help="'respect' leaves a page's Content-Security-Policy alone; 'amend' allows the runtime in it",
    )
