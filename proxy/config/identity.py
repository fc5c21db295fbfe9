"""Configuration of visitor identity: visitor ids and cookies, and where users and roles come from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import soupsieve

from proxy.config.values import DURATION_SCHEMA, SIZE_SCHEMA, parse_duration, parse_size
from proxy.yamlbind import setting

SourceKind = Literal["headers", "basic", "digest", "jwt", "map", "page"]
JWTAlgorithm = Literal[
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"
]

DEFAULT_USER_HEADERS = ("X-Forwarded-User", "X-Auth-Request-User", "X-Remote-User", "Remote-User")
DEFAULT_EMAIL_HEADERS = ("X-Forwarded-Email", "X-Auth-Request-Email")
DEFAULT_GROUPS_HEADERS = ("X-Forwarded-Groups", "X-Auth-Request-Groups")

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_ROLE_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f]")
_TEMPLATE_REFERENCE = re.compile(r"\\(\d+)|\\g<([^>]*)>")
MAX_ROLE_LENGTH = 128


def parse_header_name(value: Any) -> str:
    """Check an HTTP header name such as "X-Forwarded-User"."""
    text = str(value)
    if not _TOKEN.match(text):
        raise ValueError("expected an HTTP header name such as 'X-Forwarded-User'")
    return text


def parse_cookie_name(value: Any) -> str:
    """Check a cookie name such as "JSESSIONID"."""
    text = str(value)
    if not _TOKEN.match(text):
        raise ValueError("expected a cookie name of letters, digits and '-', '_' or '.' such as 'JSESSIONID'")
    return text


def parse_role(value: Any) -> str:
    """Check a role name: 1 to 128 characters, no control characters, no surrounding spaces."""
    text = str(value)
    if not text.strip() or text != text.strip() or len(text) > MAX_ROLE_LENGTH or _ROLE_FORBIDDEN.search(text):
        raise ValueError(
            f"expected a role name of 1 to {MAX_ROLE_LENGTH} characters without control characters "
            "or surrounding spaces"
        )
    return text


def parse_regex(value: Any) -> str:
    """Check that a value compiles as a Python regular expression; return it unchanged."""
    text = str(value)
    try:
        re.compile(text)
    except re.error as error:
        raise ValueError(f"expected a valid regular expression ({error})") from None
    return text


def parse_selector(value: Any) -> str:
    """Check that a value compiles as a CSS selector; return it unchanged."""
    text = str(value)
    try:
        soupsieve.compile(text)
    except soupsieve.SelectorSyntaxError as error:
        first_line = str(error).splitlines()[0]
        raise ValueError(f"expected a valid CSS selector ({first_line})") from None
    return text


def parse_claim_path(value: Any) -> str:
    """Check a claim path such as "roles" or "realm_access.roles"."""
    text = str(value)
    if not text or text.startswith(".") or text.endswith(".") or ".." in text:
        raise ValueError("expected a claim name or a dotted path such as 'realm_access.roles'")
    return text


def _one_of(section: str, values: dict[str, object]) -> str:
    chosen = [name for name, value in values.items() if value is not None]
    if len(chosen) != 1:
        listed = ", ".join(values)
        found = ", ".join(chosen) if chosen else "none"
        raise ValueError(f"{section} needs exactly one of {listed} (found: {found})")
    return chosen[0]


@dataclass(frozen=True)
class VisitorConfig:
    """How visitors get pseudonymous ids."""

    secret: str | None = setting(
        None, help="key of the HMAC that turns user names into visitor ids; set it from ${ENV_VAR}"
    )
    cookie_name: str = setting(
        "guidegate_vid", parse=parse_cookie_name, help="name of the random visitor cookie for anonymous visitors"
    )
    cookie_max_age: float = setting(
        365 * 86400.0,
        parse=parse_duration,
        schema=DURATION_SCHEMA,
        help="lifetime of the visitor cookie, e.g. '365d'",
    )


@dataclass(frozen=True)
class HeaderSourceConfig:
    """Identity headers set by an authenticating proxy in front, such as oauth2-proxy or Apache mod_auth_*."""

    user: tuple[str, ...] = setting(
        DEFAULT_USER_HEADERS, parse=parse_header_name, help="headers carrying the user name, in order of preference"
    )
    email: tuple[str, ...] = setting(
        DEFAULT_EMAIL_HEADERS, parse=parse_header_name, help="headers carrying the user's e-mail address"
    )
    groups: tuple[str, ...] = setting(
        DEFAULT_GROUPS_HEADERS, parse=parse_header_name, help="headers carrying the user's groups"
    )
    group_separator: str = setting(",", help="text between two groups in a groups header")
    email_as_user: bool = setting(True, help="use the e-mail address as the user name when no user header is set")

    def __post_init__(self) -> None:
        if not self.group_separator:
            raise ValueError("group_separator is empty; expected the text between two groups, e.g. ','")

    def header_names(self) -> tuple[str, ...]:
        """Return every header name this source reads."""
        return self.user + self.email + self.groups


@dataclass(frozen=True)
class AuthorizationSourceConfig:
    """User names from HTTP Basic or Digest `Authorization` headers; the password is never read."""

    trusted_peers_only: bool = setting(
        True,
        help="honour the header only from trusted_proxies, because a proxy in front checked the password; "
        "false when the upstream checks it",
    )


@dataclass(frozen=True)
class JWTSourceConfig:
    """A signed JSON Web Token in a header or cookie, verified with a configured key."""

    algorithms: tuple[JWTAlgorithm, ...] = setting(help="accepted signature algorithms, e.g. [RS256]")
    secret: str | None = setting(None, help="shared secret for HS256/HS384/HS512; set it from ${ENV_VAR}")
    key_file: str | None = setting(
        None, help="PEM public key or certificate for RS*, PS* or ES*, relative to the config file"
    )
    jwks_file: str | None = setting(None, help="local JWKS (JSON Web Key Set) file, relative to the config file")
    header: str | None = setting(
        "Authorization",
        parse=parse_header_name,
        help="header carrying the token ('Authorization' expects 'Bearer <token>'); null to read no header",
    )
    cookie: str | None = setting(None, parse=parse_cookie_name, help="cookie carrying the token")
    audience: tuple[str, ...] = setting((), help="accepted 'aud' values; empty accepts any audience")
    issuer: str | None = setting(None, help="required 'iss' value")
    leeway: float = setting(
        30.0, parse=parse_duration, schema=DURATION_SCHEMA, help="clock skew allowed for exp and nbf, e.g. '30s'"
    )
    require_expiry: bool = setting(True, help="reject tokens without an 'exp' claim")
    user_claims: tuple[str, ...] = setting(
        ("preferred_username", "sub"), parse=parse_claim_path, help="claims tried in order for the user name"
    )
    role_claims: tuple[str, ...] = setting(
        ("roles", "realm_access.roles"), parse=parse_claim_path, help="claims whose values are roles"
    )
    group_claims: tuple[str, ...] = setting(
        ("groups",), parse=parse_claim_path, help="claims whose values are groups, mapped through group_roles"
    )
    max_token_bytes: int = setting(
        16 * 1024, parse=parse_size, schema=SIZE_SCHEMA, help="longer tokens are rejected unread, e.g. '16KiB'"
    )

    def __post_init__(self) -> None:
        if not self.algorithms:
            raise ValueError("algorithms is empty; expected at least one algorithm such as RS256")
        key = _one_of("jwt", {"secret": self.secret, "key_file": self.key_file, "jwks_file": self.jwks_file})
        symmetric = [name for name in self.algorithms if name.startswith("HS")]
        asymmetric = [name for name in self.algorithms if not name.startswith("HS")]
        if key == "secret" and asymmetric:
            raise ValueError(
                f"algorithm {asymmetric[0]} needs key_file or jwks_file; expected only HS256, HS384 or HS512 "
                "with a secret"
            )
        if key != "secret" and symmetric:
            raise ValueError(
                f"algorithm {symmetric[0]} needs a secret; expected RS*, PS* or ES* algorithms with {key}"
            )
        if self.secret is not None:
            strongest = max(self.algorithms, key=lambda name: int(name[2:]))
            needed = int(strongest[2:]) // 8
            length = len(self.secret.encode("utf-8"))
            if length < needed:
                raise ValueError(
                    f"the secret has {length} bytes but {strongest} needs at least {needed}; expected a longer secret"
                )
        if self.header is None and self.cookie is None:
            raise ValueError("neither header nor cookie is set; expected where the token is carried")
        if not self.user_claims:
            raise ValueError("user_claims is empty; expected at least one claim such as 'sub'")


@dataclass(frozen=True)
class RoleMapConfig:
    """A file that maps user names to roles, reloaded when it changes."""

    __scalar_field__ = "file"

    file: str = setting(
        help="CSV ('user,role1;role2' per line) or YAML (user: [roles]) file, relative to the config file"
    )

    def __post_init__(self) -> None:
        if not self.file.lower().endswith((".csv", ".yaml", ".yml")):
            raise ValueError(f"map file '{self.file}' has an unknown type; expected a .csv, .yaml or .yml file")

    @property
    def format(self) -> Literal["csv", "yaml"]:
        """The file format, from its extension."""
        return "csv" if self.file.lower().endswith(".csv") else "yaml"


@dataclass(frozen=True)
class PageSourceConfig:
    """Roles (and optionally the user name) read from the app's own HTML pages, remembered per app session."""

    session_cookie: str = setting(
        parse=parse_cookie_name, help="the app's session cookie, e.g. 'JSESSIONID'; learned roles follow it"
    )
    roles_selector: str | None = setting(
        None, parse=parse_selector, help="CSS selector of the elements whose text (or attribute) is a role"
    )
    roles_regex: str | None = setting(
        None, parse=parse_regex, help="regular expression whose matches (group 1 if present) are roles"
    )
    user_selector: str | None = setting(None, parse=parse_selector, help="CSS selector of the user name element")
    user_regex: str | None = setting(
        None, parse=parse_regex, help="regular expression whose first match (group 1 if present) is the user name"
    )
    roles_attribute: str | None = setting(
        None, help="read this attribute of the roles_selector elements instead of their text"
    )
    user_attribute: str | None = setting(
        None, help="read this attribute of the user_selector element instead of its text"
    )
    separator: str | None = setting(None, help="split each role text at this separator, e.g. ','")
    max_bytes: int = setting(
        64 * 1024, parse=parse_size, schema=SIZE_SCHEMA, minimum=1, help="bytes of each page searched, e.g. '64KiB'"
    )
    ttl: float = setting(
        8 * 3600.0, parse=parse_duration, schema=DURATION_SCHEMA, help="how long learned roles are kept, e.g. '8h'"
    )
    refresh: float = setting(
        60.0,
        parse=parse_duration,
        schema=DURATION_SCHEMA,
        help="shortest time between two pages read for the same session, e.g. '60s'",
    )
    max_sessions: int = setting(10_000, minimum=1, help="sessions remembered at most; the oldest are dropped")

    def __post_init__(self) -> None:
        if self.roles_selector is not None and self.roles_regex is not None:
            raise ValueError("page has both roles_selector and roles_regex; expected one of them")
        if self.user_selector is not None and self.user_regex is not None:
            raise ValueError("page has both user_selector and user_regex; expected one of them")
        if self.roles_selector is None and self.roles_regex is None and self.user_selector is None and (
            self.user_regex is None
        ):
            raise ValueError("page reads nothing; expected roles_selector, roles_regex, user_selector or user_regex")
        if self.separator == "":
            raise ValueError("separator is empty; expected the text between two roles, e.g. ','")


@dataclass(frozen=True)
class GroupRoleRule:
    """Roles given to members of a group, matched by exact name or by a regular expression."""

    roles: tuple[str, ...] = setting(
        parse=parse_role,
        help="roles given to members; with a pattern, '\\1' or '\\g<name>' insert a captured group",
    )
    group: str | None = setting(None, help="exact group name")
    pattern: str | None = setting(None, parse=parse_regex, help="regular expression the whole group name must match")

    def __post_init__(self) -> None:
        _one_of("a group_roles rule", {"group": self.group, "pattern": self.pattern})
        if not self.roles:
            raise ValueError("roles is empty; expected at least one role")
        if self.pattern is None:
            return
        compiled = re.compile(self.pattern)
        for role in self.roles:
            for number, name in _TEMPLATE_REFERENCE.findall(role):
                if number and int(number) > compiled.groups:
                    raise ValueError(
                        f"role '{role}' refers to group {number} but the pattern has {compiled.groups} group(s); "
                        "expected a group number the pattern captures"
                    )
                if name and name not in compiled.groupindex and not (name.isdigit() and int(name) <= compiled.groups):
                    raise ValueError(
                        f"role '{role}' refers to group '{name}' that the pattern does not capture; "
                        "expected a group the pattern names"
                    )


@dataclass(frozen=True)
class IdentityConfig:
    """Sources of this app's user names and roles, and how their findings combine."""

    sources: tuple[SourceKind, ...] = setting(
        (), help="sources tried in order; the first one that yields a user name sets the user"
    )
    combine_roles: Literal["union", "first"] = setting(
        "union", help="'union' joins the roles of every source; 'first' keeps those of the first source with roles"
    )
    headers: HeaderSourceConfig | None = setting(None, help="the 'headers' source")
    basic: AuthorizationSourceConfig | None = setting(None, help="the 'basic' source")
    digest: AuthorizationSourceConfig | None = setting(None, help="the 'digest' source")
    jwt: JWTSourceConfig | None = setting(None, help="the 'jwt' source")
    role_map: RoleMapConfig | None = setting(None, key="map", help="the 'map' source: a user-to-roles file")
    page: PageSourceConfig | None = setting(None, help="the 'page' source: roles read from the app's pages")
    group_roles: tuple[GroupRoleRule, ...] = setting((), help="rules that turn groups into roles, all applied")
    keep_unmapped_groups: bool = setting(False, help="use a group that no group_roles rule matches as a role")
    default_roles: tuple[str, ...] = setting(
        (), parse=parse_role, help="roles of a visitor for whom no source yields one"
    )
    expose_user: bool = setting(False, help="allow the user name to be stored and sent to the browser")
    lowercase_user: bool = setting(False, help="compare and hash user names in lower case")

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for kind in self.sources:
            if kind in seen:
                raise ValueError(f"source '{kind}' is listed twice in sources; expected each source once")
            seen.add(kind)
        sections = {
            "headers": self.headers,
            "basic": self.basic,
            "digest": self.digest,
            "jwt": self.jwt,
            "map": self.role_map,
            "page": self.page,
        }
        for needed in ("jwt", "map", "page"):
            if needed in seen and sections[needed] is None:
                raise ValueError(
                    f"source '{needed}' is listed in sources but the '{needed}' section is missing; "
                    f"expected a '{needed}' section"
                )
        for name, section in sections.items():
            if section is not None and name not in seen:
                raise ValueError(
                    f"the '{name}' section is set but '{name}' is not in sources; "
                    f"expected '{name}' in sources, or no '{name}' section"
                )
