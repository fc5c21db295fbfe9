"""Fixtures for the identity tests: configs written to temporary files, keys, and a clock the test moves."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from proxy.config import Config, load_config
from proxy.identity import IdentityResolver

from .helpers import SECRET, FakeClock, config_text


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def load(tmp_path: Path) -> Callable[..., Config]:
    """Write a config with the given identity section to tmp_path/config.yaml and load it."""

    def load_identity(identity: str, *, mode: str = "development", secret: str | None = SECRET) -> Config:
        path = tmp_path / "config.yaml"
        path.write_text(config_text(identity, mode=mode, secret=secret), encoding="utf-8")
        return load_config(path, environ={})

    return load_identity


@pytest.fixture
def resolver(load: Callable[..., Config], clock: FakeClock) -> Callable[..., IdentityResolver]:
    """Build the 'erp' resolver from an identity section, on the test's clock."""

    def build(identity: str) -> IdentityResolver:
        config = load(identity)
        return IdentityResolver.for_app(config, config.apps[0], clock=clock)

    return build


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())
