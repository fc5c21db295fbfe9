"""A lean HTTP/1.1 client for upstreams: pooled keep-alive connections, streamed bodies, one timer per exchange."""

from proxy.upstream.client import UpstreamResponse, send
from proxy.upstream.errors import (
    ConnectFailed,
    ConnectTimeout,
    Disconnected,
    InvalidResponse,
    ReadTimeout,
    RequestBodyFailed,
    TlsFailed,
    UpstreamError,
)
from proxy.upstream.pool import ConnectionPool

__all__ = [
    "ConnectFailed",
    "ConnectTimeout",
    "ConnectionPool",
    "Disconnected",
    "InvalidResponse",
    "ReadTimeout",
    "RequestBodyFailed",
    "TlsFailed",
    "UpstreamError",
    "UpstreamResponse",
    "send",
]
