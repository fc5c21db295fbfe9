"""Tests of KeyedHash: the same digests as HMAC-SHA256 from the standard library, for keys shorter and longer than a block."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from proxy.identity.visitor import KeyedHash, keyed_hash


@pytest.mark.parametrize("key_length", [pytest.param(n, id=f"key-{n}") for n in (1, 32, 63, 64, 65, 200)])
@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param("alice", id="ascii"),
        pytest.param("Jürgen Groß", id="non-ascii"),
        pytest.param("\udc80x", id="lone-surrogate"),
        pytest.param("v" * 500, id="long"),
    ],
)
def test_keyed_hash_matches_hmac(key_length: int, value: str) -> None:
    secret = bytes(range(256))[:key_length]
    expected = hmac.new(secret, b"cookie\x00" + value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:32]
    assert KeyedHash(secret, b"cookie")(value) == expected
    assert keyed_hash(secret, b"cookie", value) == expected
