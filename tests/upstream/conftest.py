"""Fixtures of the HTTP/1.1 client tests: scripted loopback upstreams stopped after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .helpers import Handler, StartUpstream, Upstream


@pytest.fixture
async def start_upstream() -> AsyncIterator[StartUpstream]:
    """Start scripted upstreams; each is stopped when the test ends, and a handler's own failure fails the test."""
    started: list[Upstream] = []

    async def start(handler: Handler) -> Upstream:
        upstream = Upstream(handler)
        await upstream.start()
        started.append(upstream)
        return upstream

    yield start
    for upstream in started:
        await upstream.stop()
    errors = [error for upstream in started for error in upstream.errors]
    if errors:
        raise errors[0]
