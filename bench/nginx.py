"""Run an nginx instance in the foreground with its own prefix folder for config, PID, logs and temp files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from bench.process import BenchError, Process, ProcessGroup, wait_for_port

NGINX = "/usr/sbin/nginx"

_CONF = """\
daemon off;
master_process on;
worker_processes 1;
{user}pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;

events {{
    worker_connections 4096;
}}

http {{
    access_log off;
    client_body_temp_path {prefix}/temp/client_body;
    proxy_temp_path {prefix}/temp/proxy;
    fastcgi_temp_path {prefix}/temp/fastcgi;
    uwsgi_temp_path {prefix}/temp/uwsgi;
    scgi_temp_path {prefix}/temp/scgi;
    types {{
        text/html html;
        application/json json;
        application/octet-stream bin;
    }}
    default_type application/octet-stream;

{http}
}}
"""


def nginx_available() -> bool:
    """Return whether the nginx binary exists."""
    return os.access(NGINX, os.X_OK) or shutil.which("nginx") is not None


def start_nginx(group: ProcessGroup, name: str, port: int, http_block: str) -> Process:
    """Start nginx with one worker and the given `http {}` contents, in `<workdir>/<name>/`; wait for `port`."""
    if not nginx_available():
        raise BenchError(f"nginx is not installed at {NGINX}; install the Debian package nginx-light")
    prefix = group.workdir / name
    for folder in ("temp", "temp/client_body", "temp/proxy", "temp/fastcgi", "temp/uwsgi", "temp/scgi"):
        (prefix / folder).mkdir(parents=True, exist_ok=True)
    # As root nginx would switch its worker to 'nobody', which cannot read the harness's private temp folder.
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = prefix / "nginx.conf"
    conf.write_text(_CONF.format(prefix=prefix, user=user, http=http_block), encoding="utf-8")
    binary = NGINX if os.access(NGINX, os.X_OK) else "nginx"
    process = group.start(name, [binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")])
    wait_for_port(process, port)
    return process


def error_log(process: Process) -> Path:
    """Return the error log of an nginx started by start_nginx."""
    return Path(process.log).parent / process.name / "error.log"
