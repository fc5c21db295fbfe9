"""Helpers for the identity tests: config text for one app, a clock the test moves, and PEM encoding."""

from __future__ import annotations

import textwrap

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

SECRET = "0123456789abcdef0123456789abcdef"
TRUSTED_PEER = "10.0.0.5"
UNTRUSTED_PEER = "203.0.113.7"


class FakeClock:
    """A monotonic clock that moves only when the test advances it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def config_text(identity: str, *, mode: str = "development", secret: str | None = SECRET) -> str:
    """Return a config.yaml with one app 'erp' whose identity section is `identity`."""
    lines = ["trusted_proxies: [10.0.0.0/8]", f"mode: {mode}"]
    if secret is not None:
        lines.append(f'visitor: {{secret: "{secret}"}}')
    lines += ["apps:", "  - name: erp", "    upstream: http://127.0.0.1:8081/"]
    if identity.strip():
        lines.append("    identity:")
        lines.append(textwrap.indent(textwrap.dedent(identity).strip("\n"), "      "))
    return "\n".join(lines) + "\n"


def public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    """Return the PEM SubjectPublicKeyInfo of a private key's public half."""
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
