"""The `jwt` source: a signed JSON Web Token from a header or cookie, verified with a configured key."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from proxy.config.identity import JWTSourceConfig
from proxy.identity.headers import Report, clean_user, header_values, single_value
from proxy.identity.model import IdentityConfigError, SourceResult
from proxy.identity.watch import WatchedFile

MIN_RSA_BITS = 2048
MAX_CLAIM_VALUES = 1000
_CURVES = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}
_MISSING = object()

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


@dataclass(frozen=True)
class VerificationKey:
    """One key that may verify a token: its key id and algorithm when the JWKS names them."""

    key: PublicKey | bytes
    kid: str | None = None
    algorithm: str | None = None


def key_fits(key: PublicKey | bytes, algorithm: str) -> bool:
    """Return whether `key` can verify signatures made with `algorithm`."""
    if algorithm.startswith("HS"):
        return isinstance(key, bytes)
    if algorithm.startswith(("RS", "PS")):
        return isinstance(key, rsa.RSAPublicKey)
    return isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == _CURVES.get(algorithm)


def _check_public_key(key: object, display: str) -> PublicKey:
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise IdentityConfigError(
                f"{display}: the RSA key has {key.key_size} bits; expected at least {MIN_RSA_BITS} bits"
            )
        return key
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key
    raise IdentityConfigError(f"{display}: unsupported key type {type(key).__name__}; expected an RSA or EC key")


def load_pem_key(path: Path) -> tuple[VerificationKey, ...]:
    """Load a PEM public key or X.509 certificate; raise IdentityConfigError when it is neither."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise IdentityConfigError(
            f"cannot read key file {path}: {error.strerror}; expected a readable PEM public key or certificate"
        ) from error
    if b"PRIVATE KEY" in data:
        raise IdentityConfigError(
            f"{path} contains a private key; expected the public key or certificate "
            "(keep the private key with the issuer)"
        )
    key: object
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            key = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = serialization.load_pem_public_key(data)
    except ValueError as error:
        raise IdentityConfigError(f"{path} is not a valid PEM public key or certificate ({error})") from error
    return (VerificationKey(_check_public_key(key, str(path))),)


def load_jwks(path: Path) -> tuple[VerificationKey, ...]:
    """Load the signature keys of a JWKS file, skipping encryption and symmetric keys."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise IdentityConfigError(f"cannot read JWKS file {path}: {error.strerror}") from error
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise IdentityConfigError(f"{path} is not valid JSON ({error}); expected a JWKS document") from error
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise IdentityConfigError(f'{path} has no "keys" list; expected a JWKS document {{"keys": [...]}}')

    keys: list[VerificationKey] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig" or entry.get("kty") == "oct":
            continue
        try:
            parsed = jwt.PyJWK(entry)
        except jwt.PyJWTError as error:
            raise IdentityConfigError(f"{path}: key {index} is not usable ({error})") from error
        kid = entry.get("kid")
        algorithm = entry.get("alg")
        keys.append(
            VerificationKey(
                _check_public_key(parsed.key, f"{path}: key {index}"),
                kid if isinstance(kid, str) else None,
                algorithm if isinstance(algorithm, str) else None,
            )
        )
    if not keys:
        raise IdentityConfigError(f"{path} has no RSA or EC signature keys; expected at least one")
    return tuple(keys)


def claim_value(claims: Mapping[str, Any], path: str) -> Any:
    """Return the claim at a dotted path, preferring whole keys that contain dots (`https://x.example/roles`)."""
    if path in claims:
        return claims[path]
    position = path.find(".")
    while position != -1:
        head = claims.get(path[:position])
        if isinstance(head, Mapping):
            value = claim_value(head, path[position + 1 :])
            if value is not _MISSING:
                return value
        position = path.find(".", position + 1)
    return _MISSING


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value[:MAX_CLAIM_VALUES] if isinstance(item, str)]
    return []


_FAILURES: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "token expired"),
    (jwt.ImmatureSignatureError, "token not yet valid"),
    (jwt.InvalidAudienceError, "token audience not accepted"),
    (jwt.InvalidIssuerError, "token issuer not accepted"),
    (jwt.InvalidSignatureError, "invalid signature"),
    (jwt.InvalidAlgorithmError, "algorithm not allowed"),
    (jwt.InvalidKeyError, "key rejected"),
    (jwt.DecodeError, "malformed token"),
)


def describe_failure(error: jwt.PyJWTError) -> str:
    """Name a verification failure in a few words, without any part of the token."""
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"token lacks the '{error.claim}' claim"
    for kind, reason in _FAILURES:
        if isinstance(error, kind):
            return reason
    return "invalid token"


class TokenSource:
    """Verifies a JWT and reads the user, roles and groups from its claims."""

    name = "jwt"

    def __init__(
        self,
        settings: JWTSourceConfig,
        resolve_path: Callable[[str], Path],
        report: Report,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._report = report
        self._keys: WatchedFile[tuple[VerificationKey, ...]] | None = None
        self._fixed_keys: tuple[VerificationKey, ...] = ()
        if settings.secret is not None:
            self._fixed_keys = (VerificationKey(settings.secret.encode("utf-8")),)
        else:
            file = settings.key_file if settings.key_file is not None else settings.jwks_file
            loader = load_pem_key if settings.key_file is not None else load_jwks
            path = resolve_path(file or "")
            try:
                self._keys = WatchedFile(
                    path,
                    loader,
                    on_error=lambda error: report(f"key file not reloaded, keeping the previous keys: {error}"),
                    clock=clock,
                )
            except OSError as error:
                raise IdentityConfigError(
                    f"cannot read key file {path}: {error.strerror}; expected a readable file"
                ) from error
            self._check_algorithms(self._keys.get(), path)

    def reload_keys(self) -> None:
        """Reload the key or JWKS file now if it changed."""
        if self._keys is not None:
            self._keys.reload_if_changed()

    def _check_algorithms(self, keys: Sequence[VerificationKey], path: Path) -> None:
        for algorithm in self.settings.algorithms:
            if not any(key_fits(key.key, algorithm) for key in keys):
                raise IdentityConfigError(
                    f"{path} has no key for algorithm {algorithm}; expected an RSA key for RS*/PS* "
                    "or an EC key on the matching curve for ES*"
                )

    def read(self, headers: Mapping[str, str], cookies: Mapping[str, str]) -> SourceResult | None:
        """Return the user, roles and groups of a valid token, or None when there is none or it fails verification."""
        token = self._token(headers, cookies)
        if token is None:
            return None
        if len(token) > self.settings.max_token_bytes:
            self._report(f"token longer than {self.settings.max_token_bytes} bytes ignored")
            return None
        claims = self._verify(token)
        if claims is None:
            return None

        user = None
        for path in self.settings.user_claims:
            value = claim_value(claims, path)
            if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
                user = clean_user(str(value), self._report)
                break
        roles = [role for path in self.settings.role_claims for role in _strings(claim_value(claims, path))]
        groups = [group for path in self.settings.group_claims for group in _strings(claim_value(claims, path))]
        return SourceResult(self.name, user=user, groups=tuple(groups), roles=tuple(roles))

    def _token(self, headers: Mapping[str, str], cookies: Mapping[str, str]) -> str | None:
        header = self.settings.header
        if header is not None:
            if header.lower() == "authorization":
                bearers = [
                    value.strip()[7:].strip()
                    for value in header_values(headers, header)
                    if value.strip()[:7].lower() == "bearer "
                ]
                if len(set(bearers)) > 1:
                    self._report("several Bearer tokens; ignoring them all")
                    return None
                if bearers:
                    return bearers[0]
            else:
                value = single_value(headers, (header,), self._report)
                if value is not None:
                    return value[7:].strip() if value[:7].lower() == "bearer " else value
        if self.settings.cookie is not None:
            value = cookies.get(self.settings.cookie)
            if value:
                return value.strip()
        return None

    def _verify(self, token: str) -> dict[str, Any] | None:
        try:
            header = jwt.get_unverified_header(token)
            algorithm = header.get("alg")
            if not isinstance(algorithm, str) or algorithm not in self.settings.algorithms:
                self._report("algorithm not allowed")
                return None
            kid = header.get("kid")
            keys = self._candidates(algorithm, kid if isinstance(kid, str) else None)
            if not keys:
                self._report("no key in the key file matches the token's key id and algorithm")
                return None
            failure: jwt.PyJWTError | None = None
            for key in keys:
                try:
                    return self._decode(token, key.key, algorithm)
                except jwt.InvalidSignatureError as error:
                    failure = error
            if failure is not None:
                raise failure
        except jwt.PyJWTError as error:
            self._report(describe_failure(error))
        return None

    def _candidates(self, algorithm: str, kid: str | None) -> list[VerificationKey]:
        keys = self._keys.get() if self._keys is not None else self._fixed_keys
        fitting = [
            key
            for key in keys
            if key_fits(key.key, algorithm) and (key.algorithm is None or key.algorithm == algorithm)
        ]
        if kid is not None and any(key.kid is not None for key in fitting):
            return [key for key in fitting if key.kid == kid]
        return fitting

    def _decode(self, token: str, key: PublicKey | bytes, algorithm: str) -> dict[str, Any]:
        settings = self.settings
        return jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=list(settings.audience) or None,
            issuer=settings.issuer,
            leeway=settings.leeway,
            options={
                "require": ["exp"] if settings.require_expiry else [],
                "verify_aud": bool(settings.audience),
                "enforce_minimum_key_length": True,
            },
        )
