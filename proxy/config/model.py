"""The deployment configuration as frozen dataclasses: listeners, apps and shared settings."""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from proxy.config.analytics import AnalyticsConfig
from proxy.config.identity import IdentityConfig, VisitorConfig
from proxy.config.inject import InjectConfig
from proxy.config.storage import StorageConfig
from proxy.config.values import (
    DURATION_SCHEMA,
    SIZE_SCHEMA,
    parse_duration,
    parse_host,
    parse_network,
    parse_path_prefix,
    parse_prefix,
    parse_size,
    parse_upstream_url,
)
from proxy.yamlbind import setting

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_APP_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
NETWORK_SCHEMA = {"type": "string"}


def _parse_app_name(value: object) -> str:
    text = str(value)
    if not _APP_NAME.match(text):
        raise ValueError("expected lower-case letters, digits, '-' or '_', starting with a letter or digit")
    return text


@dataclass(frozen=True)
class TLSConfig:
    """Certificate and key that a listener serves HTTPS with."""

    certificate: str = setting(help="PEM certificate chain file, relative to the config file")
    key: str = setting(help="PEM private key file, relative to the config file")


@dataclass(frozen=True)
class Listener:
    """An address Guidegate accepts connections on."""

    host: str = setting("127.0.0.1", help="address to bind, e.g. 0.0.0.0 for every interface")
    port: int = setting(8080, minimum=1, maximum=65535, help="TCP port to bind")
    tls: TLSConfig | None = setting(None, help="serve HTTPS with this certificate and key")


@dataclass(frozen=True)
class Timeouts:
    """Limits on waiting for an upstream."""

    connect: float = setting(5.0, parse=parse_duration, schema=DURATION_SCHEMA, help="connection set-up, e.g. '5s'")
    read: float = setting(
        60.0, parse=parse_duration, schema=DURATION_SCHEMA, help="maximum silence while reading a response, e.g. '60s'"
    )


@dataclass(frozen=True)
class App:
    """One legacy application behind Guidegate."""

    name: str = setting(parse=_parse_app_name, schema={"type": "string"}, help="a short id such as 'erp'")
    upstream: str = setting(
        parse=parse_upstream_url, schema={"type": "string", "format": "uri"}, help="the upstream URL, e.g. 'http://127.0.0.1:8081/'"
    )
    hosts: tuple[str, ...] = setting(
        (), parse=parse_host, help="Host header values routed to this app; empty means any host"
    )
    path_prefix: str = setting("/", parse=parse_path_prefix, help="public path the app is mounted at, e.g. '/erp/'")
    host_header: Literal["client", "upstream"] = setting(
        "upstream", help="Host sent upstream: the client's ('client') or the upstream URL's ('upstream')"
    )
    tls_verify: bool = setting(True, help="verify the upstream's HTTPS certificate")
    ca_file: str | None = setting(None, help="PEM file of CA certificates trusted for the upstream")
    timeouts: Timeouts = setting(default_factory=Timeouts, help="upstream timeouts")
    max_request_body: int = setting(
        100 * 1024 * 1024, parse=parse_size, schema=SIZE_SCHEMA, help="largest request body forwarded, e.g. '100MiB'"
    )
    max_connections: int = setting(100, minimum=1, help="pooled keep-alive connections to the upstream at most")
    rules: tuple[str, ...] = setting((), help="rule files or folders for this app, relative to the config file")
    inject: InjectConfig = setting(default_factory=InjectConfig, help="HTML injection settings")
    identity: IdentityConfig = setting(
        default_factory=IdentityConfig, help="where user names and roles come from for this app"
    )

    @functools.cached_property
    def upstream_origin(self) -> str:
        """The upstream's scheme://host[:port], without a path."""
        parts = urlsplit(self.upstream)
        return f"{parts.scheme}://{parts.netloc}"

    @functools.cached_property
    def upstream_path(self) -> str:
        """The upstream URL's path, ending in '/'."""
        return urlsplit(self.upstream).path


@dataclass(frozen=True)
class LoggingConfig:
    """Log level and format."""

    level: Literal["debug", "info", "warning", "error"] = setting("info", help="lowest level written")
    format: Literal["text", "json"] = setting("text", help="'text' lines or one JSON object per line")
    access_log: bool = setting(True, help="write one line per proxied request")


@dataclass(frozen=True)
class AdminConfig:
    """Admin access to the pages under the prefix."""

    token: str | None = setting(None, help="bearer token for admin pages; set it from ${ENV_VAR}")
    roles: tuple[str, ...] = setting((), help="roles whose users may open admin pages and preview guides")
    monitor_networks: tuple[Network, ...] = setting(
        default_factory=lambda: (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")),
        parse=parse_network,
        schema=NETWORK_SCHEMA,
        help="peers (CIDR) that may read metrics and status without being admins; loopback by default",
    )


@dataclass(frozen=True)
class Config:
    """A whole deployment."""

    apps: tuple[App, ...] = setting(help="at least one app, each with a name and an upstream")
    listeners: tuple[Listener, ...] = setting(default_factory=lambda: (Listener(),), help="addresses to accept on")
    prefix: str = setting("/__guidegate/", parse=parse_prefix, help="reserved path for Guidegate's own routes")
    trusted_proxies: tuple[Network, ...] = setting(
        (), parse=parse_network, schema=NETWORK_SCHEMA, help="peers (CIDR) whose forwarding and identity headers are trusted"
    )
    mode: Literal["development", "production"] = setting(
        "development", help="'production' does not start without visitor.secret"
    )
    workers: int = setting(1, minimum=1, maximum=256, help="processes sharing each listener (SO_REUSEPORT)")
    event_loop: Literal["auto", "uvloop", "asyncio"] = setting(
        "auto", help="'auto' runs on uvloop when it is installed, else on asyncio's own loop"
    )
    shutdown_timeout: float = setting(
        10.0, parse=parse_duration, schema=DURATION_SCHEMA, help="time given to in-flight requests on shutdown"
    )
    logging: LoggingConfig = setting(default_factory=LoggingConfig, help="logging settings")
    visitor: VisitorConfig = setting(default_factory=VisitorConfig, help="visitor ids")
    storage: StorageConfig = setting(default_factory=StorageConfig, help="event store")
    admin: AdminConfig = setting(default_factory=AdminConfig, help="admin access")
    analytics: AnalyticsConfig = setting(default_factory=AnalyticsConfig, help="adoption reports")
    base_dir: Path = field(default=Path("."), init=False, compare=False)
    source: str = field(default="<defaults>", init=False, compare=False)

    def resolve(self, path: str) -> Path:
        """Resolve a path from the config file relative to the file's folder."""
        candidate = Path(path)
        return candidate if candidate.is_absolute() else self.base_dir / candidate
