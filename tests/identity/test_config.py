"""Tests of the apps[].identity section of config.yaml: what loads, and the exact error for each mistake."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from proxy.config import Config, ConfigError, load_config
from proxy.config.identity import (
    DEFAULT_USER_HEADERS,
    HeaderSourceConfig,
    IdentityConfig,
    JWTSourceConfig,
    RoleMapConfig,
    VisitorConfig,
)
from proxy.identity import IdentityConfigError, IdentityResolver

from .helpers import FakeClock, config_text, public_pem

SECRET_32 = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("identity", "message"),
    [
        pytest.param(
            "sources: [jwt]\njwt: {algorithms: [RS256]}",
            "9:12: invalid 'apps[0].identity.jwt': jwt needs exactly one of secret, key_file, jwks_file (found: none)",
            id="jwt-no-key",
        ),
        pytest.param(
            "sources: [jwt]\njwt: {algorithms: [RS256], key_file: a.pem, jwks_file: b.json}",
            "9:12: invalid 'apps[0].identity.jwt': jwt needs exactly one of secret, key_file, jwks_file "
            "(found: key_file, jwks_file)",
            id="jwt-two-keys",
        ),
        pytest.param(
            f"sources: [jwt]\njwt: {{algorithms: [RS256], secret: '{SECRET_32}'}}",
            "9:12: invalid 'apps[0].identity.jwt': algorithm RS256 needs key_file or jwks_file; "
            "expected only HS256, HS384 or HS512 with a secret",
            id="jwt-rs-with-secret",
        ),
        pytest.param(
            "sources: [jwt]\njwt: {algorithms: [HS256, RS256], key_file: a.pem}",
            "9:12: invalid 'apps[0].identity.jwt': algorithm HS256 needs a secret; "
            "expected RS*, PS* or ES* algorithms with key_file",
            id="jwt-hs-with-key-file",
        ),
        pytest.param(
            f"sources: [jwt]\njwt: {{algorithms: [HS256, HS512], secret: '{SECRET_32}'}}",
            "9:12: invalid 'apps[0].identity.jwt': the secret has 32 bytes but HS512 needs at least 64; "
            "expected a longer secret",
            id="jwt-short-secret",
        ),
        pytest.param(
            "sources: [jwt]\njwt: {algorithms: [none], key_file: a.pem}",
            "9:26: invalid value 'none' for 'apps[0].identity.jwt.algorithms[0]'; expected one of: HS256, HS384, "
            "HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512",
            id="jwt-alg-none",
        ),
        pytest.param(
            "sources: [jwt]\njwt: {algorithms: [RS256], key_file: a.pem, header: null}",
            "9:12: invalid 'apps[0].identity.jwt': neither header nor cookie is set; expected where the token is carried",
            id="jwt-no-carrier",
        ),
        pytest.param(
            "sources: [jwt]\njwt: {algorithms: [RS256], key_file: a.pem, role_claims: [realm_access..roles]}",
            "9:65: invalid value 'realm_access..roles' for 'apps[0].identity.jwt.role_claims[0]'; "
            "expected a claim name or a dotted path such as 'realm_access.roles'",
            id="jwt-claim-path",
        ),
        pytest.param(
            "sources: [headers, page]",
            "8:7: invalid 'apps[0].identity': source 'page' is listed in sources but the 'page' section is missing; "
            "expected a 'page' section",
            id="section-missing",
        ),
        pytest.param(
            "sources: [headers]\nmap: roles.csv",
            "8:7: invalid 'apps[0].identity': the 'map' section is set but 'map' is not in sources; "
            "expected 'map' in sources, or no 'map' section",
            id="section-not-listed",
        ),
        pytest.param(
            "sources: [headers, basic, headers]",
            "8:7: invalid 'apps[0].identity': source 'headers' is listed twice in sources; expected each source once",
            id="source-twice",
        ),
        pytest.param(
            "sources: [header]",
            "8:17: invalid value 'header' for 'apps[0].identity.sources[0]'; "
            "expected one of: headers, basic, digest, jwt, map, page (did you mean 'headers'?)",
            id="source-unknown",
        ),
        pytest.param(
            "combine_roles: all",
            "8:22: invalid value 'all' for 'apps[0].identity.combine_roles'; expected one of: union, first",
            id="combine-unknown",
        ),
        pytest.param(
            "sources: [headers]\nheaders: {user: ['X User']}",
            "9:24: invalid value 'X User' for 'apps[0].identity.headers.user[0]'; "
            "expected an HTTP header name such as 'X-Forwarded-User'",
            id="header-name",
        ),
        pytest.param(
            "sources: [headers]\nheaders: {users: [X-User]}",
            "9:17: unknown key 'users' in 'apps[0].identity.headers'; "
            "expected one of: user, email, groups, group_separator, email_as_user (did you mean 'user'?)",
            id="header-key-typo",
        ),
        pytest.param(
            "sources: [headers]\nheaders: {group_separator: ''}",
            "9:16: invalid 'apps[0].identity.headers': group_separator is empty; "
            "expected the text between two groups, e.g. ','",
            id="header-separator",
        ),
        pytest.param(
            "sources: [map]\nmap: roles.txt",
            "9:12: invalid 'apps[0].identity.map': map file 'roles.txt' has an unknown type; "
            "expected a .csv, .yaml or .yml file",
            id="map-extension",
        ),
        pytest.param(
            "group_roles:\n  - {group: a, pattern: b, roles: [x]}",
            "9:11: invalid 'apps[0].identity.group_roles[0]': a group_roles rule needs exactly one of group, pattern "
            "(found: group, pattern)",
            id="group-rule-both",
        ),
        pytest.param(
            "group_roles:\n  - {roles: [x]}",
            "9:11: invalid 'apps[0].identity.group_roles[0]': a group_roles rule needs exactly one of group, pattern "
            "(found: none)",
            id="group-rule-neither",
        ),
        pytest.param(
            "group_roles:\n  - {pattern: 'erp-(', roles: [x]}",
            "9:21: invalid value 'erp-(' for 'apps[0].identity.group_roles[0].pattern'; "
            "expected a valid regular expression (missing ), unterminated subpattern at position 4)",
            id="group-rule-regex",
        ),
        pytest.param(
            "group_roles:\n  - {pattern: 'erp-(.+)', roles: ['\\2']}",
            "9:11: invalid 'apps[0].identity.group_roles[0]': role '\\2' refers to group 2 but the pattern has "
            "1 group(s); expected a group number the pattern captures",
            id="group-rule-number",
        ),
        pytest.param(
            "group_roles:\n  - {pattern: 'erp-(?P<r>.+)', roles: ['\\g<role>']}",
            "9:11: invalid 'apps[0].identity.group_roles[0]': role '\\g<role>' refers to group 'role' that the "
            "pattern does not capture; expected a group the pattern names",
            id="group-rule-name",
        ),
        pytest.param(
            "default_roles: [' clerk']",
            "8:23: invalid value ' clerk' for 'apps[0].identity.default_roles[0]'; expected a role name of 1 to 128 "
            "characters without control characters or surrounding spaces",
            id="role-spaces",
        ),
        pytest.param(
            "sources: [page]\npage: {session_cookie: JSESSIONID, roles_selector: '.role', roles_regex: 'x'}",
            "9:13: invalid 'apps[0].identity.page': page has both roles_selector and roles_regex; "
            "expected one of them",
            id="page-selector-and-regex",
        ),
        pytest.param(
            "sources: [page]\npage: {session_cookie: JSESSIONID}",
            "9:13: invalid 'apps[0].identity.page': page reads nothing; "
            "expected roles_selector, roles_regex, user_selector or user_regex",
            id="page-reads-nothing",
        ),
        pytest.param(
            "sources: [page]\npage: {session_cookie: JSESSIONID, roles_selector: 'div['}",
            "9:58: invalid value 'div[' for 'apps[0].identity.page.roles_selector'; "
            "expected a valid CSS selector (Malformed attribute selector at position 3)",
            id="page-selector",
        ),
        pytest.param(
            "sources: [page]\npage: {session_cookie: 'my session', roles_regex: 'x'}",
            "9:30: invalid value 'my session' for 'apps[0].identity.page.session_cookie'; "
            "expected a cookie name of letters, digits and '-', '_' or '.' such as 'JSESSIONID'",
            id="page-cookie-name",
        ),
        pytest.param(
            "sources: [page]\npage: {roles_regex: 'x'}",
            "9:13: missing key 'session_cookie' in 'apps[0].identity.page'; "
            "expected the app's session cookie, e.g. 'JSESSIONID'; learned roles follow it",
            id="page-no-cookie",
        ),
        pytest.param(
            "sources: [basic]\nbasic: {trusted_peer_only: false}",
            "9:15: unknown key 'trusted_peer_only' in 'apps[0].identity.basic'; "
            "expected one of: trusted_peers_only (did you mean 'trusted_peers_only'?)",
            id="basic-key-typo",
        ),
    ],
)
def test_identity_section_error(load: Callable[..., Config], tmp_path: Path, identity: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(identity)
    assert str(caught.value) == f"{tmp_path / 'config.yaml'}:{message}"


def test_identity_section_defaults(load: Callable[..., Config]) -> None:
    identity = load("").apps[0].identity
    assert identity.sources == ()
    assert identity.combine_roles == "union"
    assert identity.headers is None
    assert identity.expose_user is False


def test_identity_section_shorthands(load: Callable[..., Config]) -> None:
    identity = load("sources: [headers, map]\nheaders: {user: X-Remote-User}\nmap: roles.csv").apps[0].identity
    assert identity.headers == HeaderSourceConfig(user=("X-Remote-User",))
    assert identity.role_map == RoleMapConfig(file="roles.csv")
    assert HeaderSourceConfig().user == DEFAULT_USER_HEADERS


def test_identity_jwt_section_from_environment(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(config_text("sources: [jwt]\njwt: {algorithms: [HS256], secret: '${JWT_SECRET}'}"))
    config = load_config(path, environ={"JWT_SECRET": "s" * 32})
    assert config.apps[0].identity.jwt == JWTSourceConfig(algorithms=("HS256",), secret="s" * 32)


@pytest.mark.parametrize(
    ("identity", "files", "message"),
    [
        pytest.param(
            "sources: [map]\nmap: roles.csv",
            {},
            "app erp: cannot read map file {dir}/roles.csv: No such file or directory; "
            "expected a readable CSV or YAML file",
            id="map-missing",
        ),
        pytest.param(
            "sources: [jwt]\njwt: {algorithms: [RS256], key_file: key.pem}",
            {},
            "app erp: cannot read key file {dir}/key.pem: No such file or directory; expected a readable file",
            id="key-missing",
        ),
        pytest.param(
            "sources: [jwt]\njwt: {algorithms: [RS256], key_file: key.pem}",
            {"key.pem": b"-----BEGIN PRIVATE KEY-----\nMII=\n-----END PRIVATE KEY-----\n"},
            "app erp: {dir}/key.pem contains a private key; expected the public key or certificate "
            "(keep the private key with the issuer)",
            id="key-private",
        ),
        pytest.param(
            "sources: [jwt]\njwt: {algorithms: [RS256], key_file: key.pem}",
            {"key.pem": b"not a key"},
            "app erp: {dir}/key.pem is not a valid PEM public key or certificate "
            "(Unable to load PEM file. See https://cryptography.io/en/latest/faq/#why-can-t-i-import-my-pem-file "
            "for more details. MalformedFraming)",
            id="key-garbage",
        ),
        pytest.param(
            "sources: [jwt]\njwt: {algorithms: [RS256], jwks_file: keys.json}",
            {"keys.json": b'{"keys": []}'},
            "app erp: {dir}/keys.json has no RSA or EC signature keys; expected at least one",
            id="jwks-empty",
        ),
        pytest.param(
            "sources: [jwt]\njwt: {algorithms: [RS256], jwks_file: keys.json}",
            {"keys.json": b"[1, 2]"},
            'app erp: {dir}/keys.json has no "keys" list; expected a JWKS document {{"keys": [...]}}',
            id="jwks-not-a-set",
        ),
    ],
)
def test_identity_file_error(
    load: Callable[..., Config], tmp_path: Path, identity: str, files: dict[str, bytes], message: str
) -> None:
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    config = load(identity)
    with pytest.raises(IdentityConfigError) as caught:
        IdentityResolver.for_app(config, config.apps[0])
    assert str(caught.value) == message.format(dir=tmp_path)


def test_identity_key_mismatch(load: Callable[..., Config], tmp_path: Path) -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    (tmp_path / "small.pem").write_bytes(public_pem(small))
    config = load("sources: [jwt]\njwt: {algorithms: [RS256], key_file: small.pem}")
    with pytest.raises(IdentityConfigError) as caught:
        IdentityResolver.for_app(config, config.apps[0])
    assert str(caught.value) == f"app erp: {tmp_path}/small.pem: the RSA key has 1024 bits; expected at least 2048 bits"


def test_identity_key_algorithm(load: Callable[..., Config], tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    (tmp_path / "key.pem").write_bytes(public_pem(rsa_key))
    config = load("sources: [jwt]\njwt: {algorithms: [RS256, ES256], key_file: key.pem}")
    with pytest.raises(IdentityConfigError) as caught:
        IdentityResolver.for_app(config, config.apps[0])
    assert str(caught.value) == (
        f"app erp: {tmp_path}/key.pem has no key for algorithm ES256; "
        "expected an RSA key for RS*/PS* or an EC key on the matching curve for ES*"
    )


def test_identity_production_secret() -> None:
    with pytest.raises(IdentityConfigError) as caught:
        IdentityResolver("erp", IdentityConfig(), visitor=VisitorConfig(), mode="production", clock=FakeClock())
    assert str(caught.value) == (
        "app erp: visitor.secret is not set in production mode; expected a secret of at least 32 characters, "
        "e.g. secret: ${GUIDEGATE_SECRET}"
    )
