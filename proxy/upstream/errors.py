"""Failures of an upstream exchange, each with the kind that metrics count and that picks 502 or 504."""

from __future__ import annotations


class UpstreamError(Exception):
    """An upstream exchange failed; `kind` names how, for metrics and logs."""

    kind = "other"


class ConnectFailed(UpstreamError):
    """The upstream refused the connection, or its name or address could not be reached."""

    kind = "refused"


class ConnectTimeout(UpstreamError):
    """Setting up the connection took longer than the app's connect timeout."""

    kind = "connect_timeout"


class TlsFailed(UpstreamError):
    """The TLS handshake with the upstream failed, for example on an untrusted certificate."""

    kind = "tls"


class ReadTimeout(UpstreamError):
    """The upstream stayed silent for longer than the app's read timeout."""

    kind = "timeout"


class InvalidResponse(UpstreamError):
    """The upstream sent bytes that are not a valid HTTP/1.x response."""

    kind = "invalid_response"


class Disconnected(UpstreamError):
    """The upstream closed the connection before the response was complete."""

    kind = "invalid_response"


class RequestBodyFailed(UpstreamError):
    """Reading the client's request body failed, so the request could not be sent whole."""

    kind = "request_body"

    def __init__(self, message: str, cause: BaseException) -> None:
        super().__init__(message)
        self.cause = cause
