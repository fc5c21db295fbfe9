"""Fixtures shared by the test suite: real upstream servers and a real proxy, all on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from multidict import CIMultiDict

from proxy.config import Config, load_config
from proxy.gateway import Gateway
from proxy.server import GatewayRunner, create_runner


@dataclass
class Running:
    """A server started by a fixture: its base URL, port and runner."""

    url: str
    port: int
    runner: web.BaseRunner

    @property
    def gateway(self) -> Gateway:
        """The gateway of a proxy started by `start_proxy`."""
        assert isinstance(self.runner, GatewayRunner), "only a proxy has a gateway"
        return self.runner.gateway


def free_port() -> int:
    """Return a loopback TCP port that is free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def start_app(application: web.Application, **runner_options: object) -> Running:
    """Start an aiohttp application on a free loopback port."""
    return await start_runner(web.AppRunner(application, **runner_options))  # type: ignore[arg-type]


async def start_runner(runner: web.BaseRunner) -> Running:
    """Set a runner up and serve it on a free loopback port."""
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return Running(f"http://127.0.0.1:{port}", port, runner)


StartUpstream = Callable[[web.Application], Awaitable[Running]]
StartProxy = Callable[..., Awaitable[Running]]


@pytest.fixture
async def start_upstream() -> AsyncIterator[StartUpstream]:
    """Start upstream applications; all are stopped when the test ends."""
    running: list[Running] = []

    async def start(application: web.Application) -> Running:
        server = await start_app(application)
        running.append(server)
        return server

    yield start
    for server in running:
        await server.runner.cleanup()


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Config]:
    """Write YAML text to tmp_path/config.yaml and load it."""

    def write(text: str) -> Config:
        path = tmp_path / "config.yaml"
        path.write_text(text, encoding="utf-8")
        return load_config(path)

    return write


@pytest.fixture
async def start_proxy(write_config: Callable[[str], Config]) -> AsyncIterator[StartProxy]:
    """Start a Guidegate application from YAML text; stopped when the test ends."""
    running: list[Running] = []

    async def start(text: str, configure: Callable[[Gateway], None] | None = None) -> Running:
        config = write_config(text)
        server = await start_runner(create_runner(config, configure=configure))
        if server.runner.server is not None:
            connections = server.runner.server
            server.gateway.metrics.track_connections(lambda: len(connections.connections))
        running.append(server)
        return server

    yield start
    for server in running:
        await server.runner.cleanup()


@dataclass
class RawResponse:
    """A response read off a raw socket: status, headers as sent, body without chunk framing."""

    status: int
    headers: CIMultiDict[str]
    body: bytes
    complete: bool
    """Whether the body ended as its framing announced (Content-Length reached, last chunk seen)."""
    raw: bytes


def parse_response(raw: bytes) -> RawResponse:
    """Parse the bytes of one HTTP/1.1 response read until the connection closed."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: CIMultiDict[str] = CIMultiDict()
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.add(name, value.strip())
    if headers.get("Transfer-Encoding", "").lower() == "chunked":
        body, complete = bytearray(), False
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                complete = True
                break
            body += rest[:size]
            rest = rest[size + 2 :]
        return RawResponse(status, headers, bytes(body), complete, raw)
    complete = "Content-Length" not in headers or len(rest) == int(headers["Content-Length"])
    return RawResponse(status, headers, rest, complete, raw)


RawRequest = Callable[..., Awaitable[RawResponse]]


@pytest.fixture
def raw_request() -> RawRequest:
    """Send bytes on a new connection to a loopback port and read the response until the server closes."""

    async def send(port: int, data: bytes, timeout: float = 5.0) -> RawResponse:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(data)
            await writer.drain()
            raw = await asyncio.wait_for(reader.read(), timeout)
        finally:
            writer.close()
        return parse_response(raw)

    return send


RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
StartRawUpstream = Callable[[RawHandler], Awaitable[int]]


@pytest.fixture
async def start_raw_upstream() -> AsyncIterator[StartRawUpstream]:
    """Start plain TCP servers that write whatever bytes a test chooses; returns each one's port."""
    servers: list[asyncio.Server] = []

    async def start(handler: RawHandler) -> int:
        async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await handler(reader, writer)
            finally:
                writer.close()

        server = await asyncio.start_server(run, "127.0.0.1", 0)
        servers.append(server)
        port: int = server.sockets[0].getsockname()[1]
        return port

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


@dataclass
class TLSFiles:
    """PEM files of a test certificate authority and of a server certificate it signed for 127.0.0.1."""

    ca: Path
    certificate: Path
    key: Path


@pytest.fixture
def tls_files(tmp_path: Path) -> TLSFiles:
    """Generate a CA and a server certificate for 127.0.0.1 and localhost, valid for one day."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Guidegate test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = TLSFiles(tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem")
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.certificate.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return files
