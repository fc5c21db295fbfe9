"""The per-app identity resolver: runs the configured sources in order and combines what they find."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from proxy.config.identity import HeaderSourceConfig, IdentityConfig, RoleMapConfig, VisitorConfig, parse_role
from proxy.config.model import App, Config, Network
from proxy.identity.authorization import AuthorizationSource
from proxy.identity.cache import CachedIdentity, IdentityCache, request_key
from proxy.identity.groups import GroupRoleMapper
from proxy.identity.headers import HeaderSource, Report
from proxy.identity.model import Identity, IdentityConfigError, SourceResult
from proxy.identity.page import PageLearner
from proxy.identity.ratelimit import RateLimitedLog
from proxy.identity.rolemap import RoleMap, load_role_map
from proxy.identity.tokens import TokenSource
from proxy.identity.trust import TrustedPeers
from proxy.identity.visitor import VisitorIds, visitor_secret
from proxy.identity.watch import WatchedFile

logger = logging.getLogger(__name__)


class _Dependencies:
    """The changing state one resolution read: the map file content and the page source's entry."""

    __slots__ = ("role_map", "page_consulted", "page_learned_at")

    def __init__(self) -> None:
        self.role_map: RoleMap | None = None
        self.page_consulted = False
        self.page_learned_at: float | None = None


class IdentityResolver:
    """Resolves visitor id, user name and roles for one app's requests.

    Build one per app at start-up. The constructor raises IdentityConfigError when the secret, a
    key or the map file cannot be used, or InvalidFileError for a map file with errors. Sources
    that fail during `resolve` are logged (rate-limited) and contribute nothing.
    """

    def __init__(
        self,
        app: str,
        settings: IdentityConfig,
        *,
        visitor: VisitorConfig,
        trusted_proxies: Sequence[Network] = (),
        mode: str = "development",
        base_dir: Path = Path("."),
        clock: Callable[[], float] = time.monotonic,
        log_interval: float = 60.0,
    ) -> None:
        self.app = app
        self.settings = settings
        self._base_dir = base_dir
        self._clock = clock
        self._log = RateLimitedLog(logger, interval=log_interval, clock=clock)
        self._trusted = TrustedPeers(trusted_proxies)
        self._mapper = GroupRoleMapper(
            settings.group_roles, settings.keep_unmapped_groups, self.reporter("group_roles")
        )
        self._headers = HeaderSource(settings.headers or HeaderSourceConfig(), self.reporter("headers"))
        self._basic = AuthorizationSource("basic", self.reporter("basic"))
        self._digest = AuthorizationSource("digest", self.reporter("digest"))
        try:
            secret = visitor_secret(visitor, mode)
            self._tokens = (
                TokenSource(settings.jwt, self._path, self.reporter("jwt"), clock=clock) if settings.jwt else None
            )
            self._role_map = self._open_role_map(settings.role_map, clock) if settings.role_map else None
        except IdentityConfigError as error:
            raise IdentityConfigError(f"app {app}: {error}") from error
        self._visitors = VisitorIds(secret, visitor)
        self._pages = (
            PageLearner(app, settings.page, secret, self.reporter("page"), clock=clock) if settings.page else None
        )
        self.cache = IdentityCache()
        # A token's validity changes with the time (exp, nbf), so an app with the jwt source is never cached.
        self._cacheable = "jwt" not in settings.sources
        credentials = ("Authorization",) if {"basic", "digest"} & set(settings.sources) else ()
        identity_headers = (
            (settings.headers or HeaderSourceConfig()).header_names() if "headers" in settings.sources else ()
        )
        # The header source reads identity headers only from trusted peers, so keys of other peers leave them out.
        self._key_headers = {
            True: (*identity_headers, *credentials, "Cookie"),
            False: (*credentials, "Cookie"),
        }
        logger.info("app %s: identity sources: %s", app, ", ".join(settings.sources) or "none")

    @classmethod
    def for_app(cls, config: Config, app: App, *, clock: Callable[[], float] = time.monotonic) -> IdentityResolver:
        """Build the resolver of `app` from the deployment's trusted proxies, mode and visitor settings."""
        return cls(
            app.name,
            app.identity,
            visitor=config.visitor,
            trusted_proxies=config.trusted_proxies,
            mode=config.mode,
            base_dir=config.base_dir,
            clock=clock,
        )

    def reporter(self, source: str) -> Report:
        """Return a callback that logs a failure of `source` as 'app A: S source: reason', rate-limited per reason."""

        def report(reason: str) -> None:
            self._log.warning((source, reason), "app %s: %s source: %s", self.app, source, reason)

        return report

    def _path(self, path: str) -> Path:
        candidate = Path(path)
        return candidate if candidate.is_absolute() else self._base_dir / candidate

    def _open_role_map(self, settings: RoleMapConfig, clock: Callable[[], float]) -> WatchedFile[RoleMap]:
        path = self._path(settings.file)
        report = self.reporter("map")

        def load(file: Path) -> RoleMap:
            return load_role_map(file, settings.format, self._normalize)

        def failed(error: Exception) -> None:
            report(f"{path} not reloaded, keeping the previous version: {error}")

        try:
            return WatchedFile(path, load, on_error=failed, clock=clock)
        except OSError as error:
            raise IdentityConfigError(
                f"cannot read map file {path}: {error.strerror}; expected a readable CSV or YAML file"
            ) from error

    def _normalize(self, user: str) -> str:
        return user.lower() if self.settings.lowercase_user else user

    # Request path.

    def resolve(
        self,
        peer_ip: str | None,
        headers: Mapping[str, str],
        cookies: Mapping[str, str],
        secure: bool,
        session_cookie_value: str | None = None,
    ) -> Identity:
        """Resolve the visitor, user name and roles of a request.

        `peer_ip` is the TCP peer's address, not X-Forwarded-For. Identity headers count only when
        it is in trusted_proxies, and so do Basic and Digest user names unless configured otherwise.
        `secure` is true when the client connection uses TLS, which adds `Secure` to a new visitor
        cookie. `session_cookie_value` overrides the page source's session cookie from `cookies`.
        """
        trusted = self._trusted.contains(peer_ip)
        return self._resolve(trusted, headers, cookies, secure, session_cookie_value, None)

    def resolve_cached(
        self,
        peer_ip: str | None,
        headers: Mapping[str, str],
        cookies: Callable[[], Mapping[str, str]],
        secure: bool,
    ) -> Identity:
        """Resolve like `resolve`, reusing the result of an earlier request with the same identity inputs.

        The inputs are the peer's trust, the Cookie header and the identity headers that the
        configured sources read. An entry is used only while the map file content it was looked up
        in is still current, no page was learned or expired since, and the page entry it used has
        not reached its ttl. A resolution that logged a warning is not cached, so the warning is
        logged again next time. An anonymous visitor without a valid visitor cookie still gets a
        new cookie on each request. `cookies` is called only when the cache has no entry.
        """
        trusted = self._trusted.contains(peer_ip)
        key = request_key(trusted, headers, self._key_headers[trusted]) if self._cacheable else None
        if key is None:
            return self._resolve(trusted, headers, cookies(), secure, None, None)
        entry = self.cache.get(key)
        if entry is not None:
            if self._still_current(entry):
                if entry.identity is not None:
                    return entry.identity
                visitor_id, set_cookie = self._visitors.new_cookie(secure)
                return Identity(visitor_id, None, entry.roles, entry.sources, set_cookie, self.settings.expose_user)
            self.cache.discard(key)

        # Read before resolving, so a page learned meanwhile (in a worker thread) makes the entry stale, never wrong.
        page_version = self._pages.version if self._pages is not None else None
        warnings = self._log.requested
        dependencies = _Dependencies()
        identity = self._resolve(trusted, headers, cookies(), secure, None, dependencies)
        if self._log.requested == warnings:
            self.cache.put(
                key,
                CachedIdentity(
                    identity if identity.set_cookie is None else None,
                    identity.roles,
                    identity.sources,
                    dependencies.role_map,
                    page_version if dependencies.page_consulted else None,
                    dependencies.page_learned_at,
                ),
            )
        return identity

    def _still_current(self, entry: CachedIdentity) -> bool:
        """Return whether the source state that `entry` was resolved with is still the state in force."""
        if entry.role_map is not None and (self._role_map is None or self._role_map.get() is not entry.role_map):
            return False
        if entry.page_version is not None:
            if self._pages is None or self._pages.version != entry.page_version:
                return False
            if entry.page_learned_at is not None and self._pages.expired(entry.page_learned_at, self._clock()):
                return False
        return True

    def _resolve(
        self,
        trusted: bool,
        headers: Mapping[str, str],
        cookies: Mapping[str, str],
        secure: bool,
        session_cookie_value: str | None,
        dependencies: _Dependencies | None,
    ) -> Identity:
        if session_cookie_value is None and self._pages is not None:
            session_cookie_value = cookies.get(self._pages.settings.session_cookie)

        found: list[tuple[str, SourceResult | None]] = []
        for kind in self.settings.sources:
            result = self._guarded(
                kind, lambda: self._read(kind, trusted, headers, cookies, session_cookie_value, dependencies)
            )
            found.append((kind, result))
        return self._combine(found, cookies, secure, dependencies)

    def _guarded(self, kind: str, read: Callable[[], SourceResult | None]) -> SourceResult | None:
        """Run one source; a crash is logged with its traceback (rate-limited) and yields nothing."""
        try:
            return read()
        except Exception:  # noqa: BLE001 - a broken source must never break the request
            self._log.warning(
                (kind, "unexpected error"), "app %s: %s source: unexpected error", self.app, kind, exc_info=True
            )
            return None

    def _read(
        self,
        kind: str,
        trusted: bool,
        headers: Mapping[str, str],
        cookies: Mapping[str, str],
        session: str | None,
        dependencies: _Dependencies | None,
    ) -> SourceResult | None:
        if kind == "headers":
            return self._headers.read(headers) if trusted else None
        if kind in ("basic", "digest"):
            section = self.settings.basic if kind == "basic" else self.settings.digest
            source = self._basic if kind == "basic" else self._digest
            if not trusted and (section is None or section.trusted_peers_only):
                if source.present(headers):
                    source.report(
                        f"{kind.capitalize()} credentials from a peer not in trusted_proxies ignored; "
                        f"set {kind}.trusted_peers_only: false if the upstream checks the password"
                    )
                return None
            return source.read(headers)
        if kind == "jwt" and self._tokens is not None:
            return self._tokens.read(headers, cookies)
        if kind == "page" and self._pages is not None and session:
            learned = self._pages.lookup_learned(session)
            if dependencies is not None:
                dependencies.page_consulted = True
                dependencies.page_learned_at = learned.learned_at if learned is not None else None
            return self._pages.result(learned)
        # The map source needs the user that the other sources find, so _combine runs it.
        return None

    def _combine(
        self,
        found: list[tuple[str, SourceResult | None]],
        cookies: Mapping[str, str],
        secure: bool,
        dependencies: _Dependencies | None = None,
    ) -> Identity:
        user = next((self._normalize(result.user) for _, result in found if result and result.user), None)
        results: list[SourceResult] = []
        for kind, result in found:
            if kind == "map" and user is not None:
                known_user = user
                result = self._guarded("map", lambda: self._map_lookup(known_user, dependencies))
            if result is not None:
                results.append(result)

        roles: dict[str, None] = {}
        used: list[str] = []
        user_source_seen = False
        for result in results:
            if result.user is not None and self._normalize(result.user) != user:
                # Another source named a different user; its roles belong to that user, not this one.
                continue
            sets_user = result.user is not None and not user_source_seen
            user_source_seen = user_source_seen or result.user is not None
            source_roles = self._valid_roles(result.roles + self._mapper.roles_for(result.groups), result.source)
            takes_roles = bool(source_roles) and (self.settings.combine_roles == "union" or not roles)
            if takes_roles:
                roles.update(dict.fromkeys(source_roles))
            if sets_user or takes_roles:
                used.append(result.source)
        if not roles and self.settings.default_roles:
            roles = dict.fromkeys(self.settings.default_roles)
            used.append("default")

        set_cookie = None
        if user is not None:
            visitor_id = self._visitors.for_user(user)
        else:
            visitor_id, set_cookie = self._visitors.for_cookie(cookies, secure)
        return Identity(visitor_id, user, frozenset(roles), tuple(used), set_cookie, self.settings.expose_user)

    def _map_lookup(self, user: str, dependencies: _Dependencies | None) -> SourceResult | None:
        if self._role_map is None:
            return None
        role_map = self._role_map.get()
        if dependencies is not None:
            dependencies.role_map = role_map
        roles = role_map.get(user)
        return SourceResult("map", roles=roles) if roles else None

    def _valid_roles(self, roles: Iterable[str], source: str) -> tuple[str, ...]:
        valid: list[str] = []
        for role in roles:
            try:
                valid.append(parse_role(role))
            except ValueError:
                self._log.warning(
                    (source, "invalid role"), "app %s: %s source: invalid role name skipped", self.app, source
                )
        return tuple(valid)

    def resolve_for_cli(self, user: str, groups: Iterable[str] = ()) -> Identity:
        """Resolve the roles of a user name given on the command line: map file, group_roles and default roles.

        Header, token and page sources are not consulted, since there is no request.
        """
        found: list[tuple[str, SourceResult | None]] = [("cli", SourceResult("cli", user=user, groups=tuple(groups)))]
        if self._role_map is not None:
            found.append(("map", None))
        return self._combine(found, {}, secure=False)

    # Page learning.

    @property
    def page_max_bytes(self) -> int:
        """Bytes of an HTML response to copy for `learn_from_page`; 0 when this app learns nothing from pages."""
        return self._pages.settings.max_bytes if self._pages is not None else 0

    def page_session(self, cookies: Mapping[str, str]) -> str | None:
        """Return the session cookie value when this request's HTML response should be read, else None.

        Returns None when the app has no page source, when the request carries no session cookie, or
        when a page of the session was read less than `refresh` ago. The caller then skips the copy.
        """
        if self._pages is None:
            return None
        session = cookies.get(self._pages.settings.session_cookie)
        if not session or not self._pages.needs_page(session):
            return None
        return session

    def learn_from_page(self, session_cookie_value: str, body: bytes, charset: str | None = None) -> bool:
        """Read the first bytes of an HTML response and remember its user and roles for the session.

        Synchronous and CPU-bound (HTML parsing), so call it off the event loop, e.g. through
        `learn_from_page_async`. Returns whether anything was learned; never raises.
        """
        if self._pages is None or not session_cookie_value:
            return False
        try:
            return self._pages.learn(session_cookie_value, body, charset) is not None
        except Exception:  # noqa: BLE001 - learning is best effort and must not break the response
            self._log.warning(
                ("page", "unexpected error"), "app %s: page source: unexpected error", self.app, exc_info=True
            )
            return False

    async def learn_from_page_async(self, session_cookie_value: str, body: bytes, charset: str | None = None) -> bool:
        """Run `learn_from_page` in a worker thread."""
        return await asyncio.to_thread(self.learn_from_page, session_cookie_value, body, charset)

    def reload_files(self) -> None:
        """Reload the map and key files now if they changed; for a background task that keeps reloads off requests."""
        if self._role_map is not None:
            self._role_map.reload_if_changed()
        if self._tokens is not None:
            self._tokens.reload_keys()


def build_resolvers(config: Config, *, clock: Callable[[], float] = time.monotonic) -> dict[str, IdentityResolver]:
    """Build every app's resolver, keyed by app name; raise the first IdentityConfigError or InvalidFileError met."""
    return {app.name: IdentityResolver.for_app(config, app, clock=clock) for app in config.apps}
