"""Tests of the `jwt` source: verified tokens give users and roles; every bad token gives nothing and one log line."""

from __future__ import annotations

import base64
import datetime
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from multidict import CIMultiDict

from proxy.identity import IdentityResolver

from .helpers import UNTRUSTED_PEER, FakeClock, public_pem

HS_SECRET = "hs256-test-secret-of-32-bytes-xx"
RS_SECTION = """
    sources: [jwt]
    jwt:
      algorithms: [RS256]
      key_file: key.pem
      audience: erp
      issuer: https://sso.example
    group_roles:
      - {pattern: '^erp-(.+)$', roles: ['\\1']}
"""


def claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": "u-123",
        "preferred_username": "alice",
        "aud": "erp",
        "iss": "https://sso.example",
        "iat": now,
        "exp": now + 300,
        **extra,
    }


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def rs_resolver(
    resolver: Callable[..., IdentityResolver], tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> IdentityResolver:
    (tmp_path / "key.pem").write_bytes(public_pem(rsa_key))
    return resolver(RS_SECTION)


def test_jwt_rs256_valid(rs_resolver: IdentityResolver, rsa_key: rsa.RSAPrivateKey) -> None:
    token = jwt.encode(claims(realm_access={"roles": ["approver"]}, groups=["erp-buyer", "staff"]), rsa_key, "RS256")
    identity = rs_resolver.resolve(UNTRUSTED_PEER, bearer(token), {}, secure=True)
    assert identity.user == "alice"
    assert identity.roles == frozenset({"approver", "buyer"})
    assert identity.sources == ("jwt",)
    assert identity.set_cookie is None


def test_jwt_hs256_cookie(resolver: Callable[..., IdentityResolver]) -> None:
    resolve = resolver(
        f"sources: [jwt]\njwt: {{algorithms: [HS256], secret: '{HS_SECRET}', header: null, cookie: id_token,"
        " user_claims: [email], role_claims: ['https://erp.example/roles']}"
    )
    token = jwt.encode(claims(email="alice@example.com", **{"https://erp.example/roles": "clerk"}), HS_SECRET, "HS256")
    identity = resolve.resolve(UNTRUSTED_PEER, {}, {"id_token": token}, secure=False)
    assert identity.user == "alice@example.com"
    assert identity.roles == frozenset({"clerk"})


def test_jwt_custom_header(resolver: Callable[..., IdentityResolver]) -> None:
    resolve = resolver(f"sources: [jwt]\njwt: {{algorithms: [HS256], secret: '{HS_SECRET}', header: X-Id-Token}}")
    token = jwt.encode(claims(roles=["clerk", 7, None]), HS_SECRET, "HS256")
    identity = resolve.resolve(UNTRUSTED_PEER, {"X-Id-Token": token}, {}, secure=False)
    assert identity.user == "alice"
    assert identity.roles == frozenset({"clerk"})


def test_jwt_es256(resolver: Callable[..., IdentityResolver], tmp_path: Path, ec_key: ec.EllipticCurvePrivateKey) -> None:
    (tmp_path / "ec.pem").write_bytes(public_pem(ec_key))
    resolve = resolver("sources: [jwt]\njwt: {algorithms: [ES256], key_file: ec.pem, user_claims: [sub]}")
    identity = resolve.resolve(UNTRUSTED_PEER, bearer(jwt.encode(claims(), ec_key, "ES256")), {}, secure=False)
    assert identity.user == "u-123"


def test_jwt_certificate(resolver: Callable[..., IdentityResolver], tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sso.example")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(rsa_key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(rsa_key, hashes.SHA256())
    )
    (tmp_path / "sso.crt").write_bytes(certificate.public_bytes(Encoding.PEM))
    resolve = resolver("sources: [jwt]\njwt: {algorithms: [RS256], key_file: sso.crt}")
    identity = resolve.resolve(UNTRUSTED_PEER, bearer(jwt.encode(claims(aud=None), rsa_key, "RS256")), {}, secure=False)
    assert identity.user == "alice"


def forged(token: str) -> str:
    header, payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["realm_access"] = {"roles": ["admin"]}
    return ".".join([header, b64(json.dumps(body).encode()), signature])


def unsigned(payload: dict[str, Any]) -> str:
    return ".".join([b64(b'{"alg":"none","typ":"JWT"}'), b64(json.dumps(payload).encode()), ""])


@pytest.mark.parametrize(
    ("make_token", "reason"),
    [
        pytest.param(
            lambda key, other: jwt.encode(claims(exp=int(time.time()) - 60), key, "RS256"), "token expired", id="expired"
        ),
        pytest.param(lambda key, other: forged(jwt.encode(claims(), key, "RS256")), "invalid signature", id="forged"),
        pytest.param(lambda key, other: jwt.encode(claims(), other, "RS256"), "invalid signature", id="wrong-key"),
        pytest.param(lambda key, other: unsigned(claims()), "algorithm not allowed", id="alg-none"),
        pytest.param(
            lambda key, other: jwt.encode(claims(), HS_SECRET, "HS256"), "algorithm not allowed", id="hs256-not-allowed"
        ),
        pytest.param(
            lambda key, other: jwt.encode(claims(aud="crm"), key, "RS256"), "token audience not accepted", id="audience"
        ),
        pytest.param(
            lambda key, other: jwt.encode(claims(iss="https://evil.example"), key, "RS256"),
            "token issuer not accepted",
            id="issuer",
        ),
        pytest.param(
            lambda key, other: jwt.encode({k: v for k, v in claims().items() if k != "exp"}, key, "RS256"),
            "token lacks the 'exp' claim",
            id="no-expiry",
        ),
        pytest.param(
            lambda key, other: jwt.encode(claims(nbf=int(time.time()) + 600), key, "RS256"),
            "token not yet valid",
            id="not-yet-valid",
        ),
        pytest.param(lambda key, other: "not.a.token", "malformed token", id="malformed"),
        pytest.param(lambda key, other: "x" * 20000, "token longer than 16384 bytes ignored", id="too-long"),
    ],
)
def test_jwt_rejected(
    rs_resolver: IdentityResolver,
    rsa_key: rsa.RSAPrivateKey,
    other_rsa_key: rsa.RSAPrivateKey,
    caplog: pytest.LogCaptureFixture,
    make_token: Callable[[rsa.RSAPrivateKey, rsa.RSAPrivateKey], str],
    reason: str,
) -> None:
    token = make_token(rsa_key, other_rsa_key)
    with caplog.at_level(logging.WARNING, logger="proxy.identity"):
        first = rs_resolver.resolve(UNTRUSTED_PEER, bearer(token), {}, secure=False)
        second = rs_resolver.resolve(UNTRUSTED_PEER, bearer(token), {}, secure=False)
    assert first.user is None
    assert first.roles == frozenset()
    assert first.sources == ()
    assert second.user is None
    assert caplog.messages == [f"app erp: jwt source: {reason}"]
    assert token[:40] not in caplog.text


def test_jwt_log_repeats_after_interval(
    rs_resolver: IdentityResolver, rsa_key: rsa.RSAPrivateKey, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    token = jwt.encode(claims(exp=int(time.time()) - 60), rsa_key, "RS256")
    with caplog.at_level(logging.WARNING, logger="proxy.identity"):
        for _ in range(4):
            rs_resolver.resolve(UNTRUSTED_PEER, bearer(token), {}, secure=False)
        clock.advance(61)
        rs_resolver.resolve(UNTRUSTED_PEER, bearer(token), {}, secure=False)
    assert caplog.messages == [
        "app erp: jwt source: token expired",
        "app erp: jwt source: token expired (3 more since the last report)",
    ]


def test_jwt_two_bearer_tokens(rs_resolver: IdentityResolver, rsa_key: rsa.RSAPrivateKey) -> None:
    headers = CIMultiDict(
        [
            ("Authorization", "Bearer " + jwt.encode(claims(), rsa_key, "RS256")),
            ("Authorization", "Bearer " + jwt.encode(claims(preferred_username="bob"), rsa_key, "RS256")),
        ]
    )
    assert rs_resolver.resolve(UNTRUSTED_PEER, headers, {}, secure=False).user is None


def jwks(*entries: tuple[rsa.RSAPrivateKey, str]) -> str:
    keys = []
    for key, kid in entries:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
    return json.dumps({"keys": keys})


def test_jwt_jwks_by_kid(
    resolver: Callable[..., IdentityResolver],
    tmp_path: Path,
    rsa_key: rsa.RSAPrivateKey,
    other_rsa_key: rsa.RSAPrivateKey,
    caplog: pytest.LogCaptureFixture,
) -> None:
    (tmp_path / "jwks.json").write_text(jwks((rsa_key, "k1"), (other_rsa_key, "k2")))
    resolve = resolver("sources: [jwt]\njwt: {algorithms: [RS256], jwks_file: jwks.json}")

    token = jwt.encode(claims(aud=None), other_rsa_key, "RS256", headers={"kid": "k2"})
    assert resolve.resolve(UNTRUSTED_PEER, bearer(token), {}, secure=False).user == "alice"

    mislabeled = jwt.encode(claims(aud=None), other_rsa_key, "RS256", headers={"kid": "k1"})
    unknown = jwt.encode(claims(aud=None), rsa_key, "RS256", headers={"kid": "k9"})
    with caplog.at_level(logging.WARNING, logger="proxy.identity"):
        assert resolve.resolve(UNTRUSTED_PEER, bearer(mislabeled), {}, secure=False).user is None
        assert resolve.resolve(UNTRUSTED_PEER, bearer(unknown), {}, secure=False).user is None
    assert caplog.messages == [
        "app erp: jwt source: invalid signature",
        "app erp: jwt source: no key in the key file matches the token's key id and algorithm",
    ]


def test_jwt_jwks_reload(
    resolver: Callable[..., IdentityResolver],
    tmp_path: Path,
    clock: FakeClock,
    rsa_key: rsa.RSAPrivateKey,
    other_rsa_key: rsa.RSAPrivateKey,
) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(jwks((rsa_key, "k1")))
    resolve = resolver("sources: [jwt]\njwt: {algorithms: [RS256], jwks_file: jwks.json}")
    rotated = jwt.encode(claims(aud=None), other_rsa_key, "RS256", headers={"kid": "k2"})
    assert resolve.resolve(UNTRUSTED_PEER, bearer(rotated), {}, secure=False).user is None

    path.write_text(jwks((rsa_key, "k1"), (other_rsa_key, "k2")))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000_000))
    clock.advance(1.0)
    assert resolve.resolve(UNTRUSTED_PEER, bearer(rotated), {}, secure=False).user == "alice"
