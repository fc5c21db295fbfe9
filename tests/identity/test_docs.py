"""Tests that the configuration examples in docs/identity.md load and behave as the text describes."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from proxy.config import Config, load_config
from proxy.identity import build_resolvers

from .helpers import config_text

DOC = Path(__file__).resolve().parents[2] / "docs" / "identity.md"
ENVIRONMENT = {"GUIDEGATE_SECRET": "s" * 40, "JWT_SECRET": "j" * 32}


def blocks(language: str) -> list[str]:
    """Return the fenced code blocks of one language, dedented as they appear in the list items."""
    found = re.findall(rf"^( *)```{language}\n(.*?)^\1```", DOC.read_text(encoding="utf-8"), re.DOTALL | re.MULTILINE)
    return ["\n".join(line[len(indent) :] for line in body.splitlines()) for indent, body in found]


CONFIGS = [block for block in blocks("yaml") if "\napps:" in block]
FRAGMENTS = [block for block in blocks("yaml") if "\napps:" not in block]


def write_support_files(folder: Path, key: rsa.RSAPrivateKey) -> None:
    (folder / "roles.csv").write_text(blocks("csv")[0] + "\n", encoding="utf-8")
    (folder / "roles.yaml").write_text("DOMAIN\\alice: [buyer]\n", encoding="utf-8")
    (folder / "keys").mkdir()
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    (folder / "keys" / "sso-jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig"}]}))


def load(folder: Path, text: str) -> Config:
    path = folder / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, environ=ENVIRONMENT)


def test_docs_examples_found() -> None:
    assert len(CONFIGS) == 5
    assert len(FRAGMENTS) == 2


@pytest.mark.parametrize("text", [pytest.param(text, id=f"config-{index}") for index, text in enumerate(CONFIGS)])
def test_docs_config_loads(tmp_path: Path, rsa_key: rsa.RSAPrivateKey, text: str) -> None:
    write_support_files(tmp_path, rsa_key)
    config = load(tmp_path, text)
    assert set(build_resolvers(config)) == {"erp"}


@pytest.mark.parametrize("text", [pytest.param(text, id=f"fragment-{index}") for index, text in enumerate(FRAGMENTS)])
def test_docs_fragment_loads(tmp_path: Path, text: str) -> None:
    identity = ("sources: [jwt]\n" + text) if text.startswith("jwt:") else text
    load(tmp_path, config_text(identity))


def test_docs_oauth2_proxy_example(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    write_support_files(tmp_path, rsa_key)
    resolver = build_resolvers(load(tmp_path, CONFIGS[0]))["erp"]
    identity = resolver.resolve(
        "127.0.0.1", {"X-Forwarded-User": "alice", "X-Forwarded-Groups": "erp-clerk,staff"}, {}, secure=True
    )
    assert identity.roles == frozenset({"clerk", "buyer", "approver"})
    anonymous = resolver.resolve("192.0.2.1", {"X-Forwarded-User": "alice"}, {}, secure=True)
    assert anonymous.roles == frozenset({"employee"})


def test_docs_jwt_example(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    write_support_files(tmp_path, rsa_key)
    resolver = build_resolvers(load(tmp_path, CONFIGS[3]))["erp"]
    claims = {
        "preferred_username": "alice",
        "aud": "erp",
        "iss": "https://sso.example.com/realms/staff",
        "exp": int(time.time()) + 60,
        "realm_access": {"roles": ["approver"]},
        "resource_access": {"erp": {"roles": ["auditor"]}},
        "groups": ["/purchasing"],
    }
    token = jwt.encode(claims, rsa_key, "RS256", headers={"kid": "k1"})
    identity = resolver.resolve("192.0.2.1", {}, {"sso_token": token}, secure=True)
    assert identity.user == "alice"
    assert identity.roles == frozenset({"approver", "auditor", "buyer"})


def test_docs_page_example(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    write_support_files(tmp_path, rsa_key)
    resolver = build_resolvers(load(tmp_path, CONFIGS[4]))["erp"]
    page = b'<ul id="user-menu"><li class="user-name">Alice</li><li class="role" data-role="buyer">Buyer</li></ul>'
    assert resolver.learn_from_page("abc", page) is True
    identity = resolver.resolve("192.0.2.1", {}, {"JSESSIONID": "abc"}, secure=False)
    assert identity.user == "Alice"
    assert identity.roles == frozenset({"buyer"})
