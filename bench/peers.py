"""The proxies Guidegate is compared with: nginx proxy_pass, nginx sub_filter injection and mitmproxy in reverse mode."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from bench.nginx import start_nginx
from bench.process import Process, ProcessGroup, free_port, wait_for_port

MITM_VENV = Path(__file__).resolve().parent / ".venv-mitm"
"""The separate virtual environment that contains mitmproxy, so it never enters the product's dependencies."""

_PROXY_PASS_HTTP = """\
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        keepalive_requests 10000000;
        location / {{
            proxy_pass {upstream};
        }}
    }}
"""

_SUB_FILTER_HTTP = """\
    gzip on;
    gzip_types text/html;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        keepalive_requests 10000000;
        location / {{
            proxy_pass {upstream};
            proxy_set_header Accept-Encoding "";
            sub_filter '{match}' '{replacement}';
            sub_filter_once on;
        }}
    }}
"""


def start_nginx_proxy(group: ProcessGroup, upstream: str) -> tuple[Process, str]:
    """Start nginx with one worker and a default `proxy_pass` (HTTP/1.0 upstream, a new connection per request)."""
    port = free_port()
    process = start_nginx(group, "nginx-proxy", port, _PROXY_PASS_HTTP.format(port=port, upstream=upstream))
    return process, f"http://127.0.0.1:{port}"


def start_nginx_sub_filter(group: ProcessGroup, upstream: str, match: str, replacement: str) -> tuple[Process, str]:
    """Start nginx that inserts `replacement` in place of the first `match` of each HTML page.

    The upstream is asked for identity bodies because sub_filter cannot edit compressed ones. nginx then
    gzips the result itself (level 1, its default) for clients that accept gzip.
    """
    for text in (match, replacement):
        if "'" in text or "$" in text:
            raise ValueError(f"sub_filter text {text!r} contains a quote or '$'; expected a plain tag")
    port = free_port()
    http = _SUB_FILTER_HTTP.format(port=port, upstream=upstream, match=match, replacement=replacement)
    process = start_nginx(group, "nginx-sub-filter", port, http)
    return process, f"http://127.0.0.1:{port}"


def mitmdump_path() -> str | None:
    """Return the mitmdump executable of bench/.venv-mitm or of PATH, or None when mitmproxy is not installed."""
    candidate = MITM_VENV / "bin" / "mitmdump"
    if os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which("mitmdump")


def start_mitmproxy(group: ProcessGroup, upstream: str, mitmdump: str) -> tuple[Process, str]:
    """Start mitmdump in reverse-proxy mode in front of `upstream`.

    Bodies over 1 MiB are streamed (stream_large_bodies) because by default mitmproxy buffers every
    body whole in memory, which a reverse proxy in front of downloads cannot afford.
    """
    port = free_port()
    confdir = group.workdir / "mitmproxy"
    confdir.mkdir(exist_ok=True)
    command = [
        mitmdump,
        "--mode", f"reverse:{upstream}",
        "--listen-host", "127.0.0.1",
        "--listen-port", str(port),
        "--quiet",
        "--set", f"confdir={confdir}",
        "--set", "stream_large_bodies=1m",
        "--set", "termlog_verbosity=warn",
    ]
    process = group.start("mitmproxy", command)
    wait_for_port(process, port, timeout=60.0)
    return process, f"http://127.0.0.1:{port}"
