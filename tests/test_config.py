"""config.yaml validation: every broken file is reported as file:line:column with what is expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.config import ConfigError, load_config

UPSTREAM = "http://127.0.0.1:8081/"
APP = f"apps:\n  - name: web\n    upstream: {UPSTREAM}\n"


def merge_bomb(levels: int) -> str:
    """A mapping whose merge keys nest `levels` deep, each level merging the one below nine times."""
    text = "&l0 {read: 5s}"
    for level in range(1, levels + 1):
        aliases = ", ".join([f"*l{level - 1}"] * 8)
        text = f"&l{level} {{<<: [{text}, {aliases}]}}"
    return text


BROKEN = [
    pytest.param(
        f"listeners:\n  - host: 127.0.0.1\n    prot: 8080\n{APP}",
        ["3:5: unknown key 'prot' in 'listeners[0]'; expected one of: host, port, tls (did you mean 'port'?)"],
        id="unknown-key-with-hint",
    ),
    pytest.param(
        f"{APP}    timeouts:\n      raed: 5s\n",
        ["5:7: unknown key 'raed' in 'apps[0].timeouts'; expected one of: connect, read (did you mean 'read'?)"],
        id="unknown-nested-key",
    ),
    pytest.param(f"workers: many\n{APP}", ["1:10: invalid value 'many' for 'workers'; expected an integer"], id="wrong-type-integer"),
    pytest.param(
        f"{APP}    tls_verify: sometimes\n",
        ["4:17: invalid value 'sometimes' for 'apps[0].tls_verify'; expected true or false"],
        id="wrong-type-boolean",
    ),
    pytest.param(
        f"listeners:\n  - port: 70000\n{APP}",
        ["2:11: invalid value 70000 for 'listeners[0].port'; expected a number from 1 to 65535"],
        id="port-out-of-range",
    ),
    pytest.param(
        f"workers: 0\n{APP}", ["1:10: invalid value 0 for 'workers'; expected a number from 1 to 256"], id="workers-out-of-range"
    ),
    pytest.param(
        "apps:\n  - name: web\n    upstream: ftp://127.0.0.1/\n",
        [
            "3:15: invalid value 'ftp://127.0.0.1/' for 'apps[0].upstream'; "
            "expected an absolute http:// or https:// URL such as 'http://127.0.0.1:8081/'"
        ],
        id="bad-url-scheme",
    ),
    pytest.param(
        "apps:\n  - name: web\n    upstream: http://127.0.0.1:99999/\n",
        ["3:15: invalid value 'http://127.0.0.1:99999/' for 'apps[0].upstream'; expected a port number from 1 to 65535 in the URL"],
        id="bad-url-port",
    ),
    pytest.param(
        "apps:\n  - name: web\n    upstream: http://127.0.0.1:8081/?a=1\n",
        ["3:15: invalid value 'http://127.0.0.1:8081/?a=1' for 'apps[0].upstream'; expected a URL without credentials, query or fragment"],
        id="bad-url-query",
    ),
    pytest.param(
        f"{APP}    timeouts:\n      read: 5 minutes\n",
        ["5:13: invalid value '5 minutes' for 'apps[0].timeouts.read'; expected a duration such as 5, '250ms', '30s', '5m' or '1h'"],
        id="bad-duration",
    ),
    pytest.param(
        f"{APP}    max_request_body: lots\n",
        ["4:23: invalid value 'lots' for 'apps[0].max_request_body'; expected a size in bytes such as 65536, '64KiB' or '10MB'"],
        id="bad-size",
    ),
    pytest.param(
        "apps:\n  - name: web\n    upstream: ${GG_TEST_UPSTREAM}\n",
        ["3:15: environment variable GG_TEST_UPSTREAM is not set; expected it to be set, or a default written as ${GG_TEST_UPSTREAM:-value}"],
        id="missing-env-var",
    ),
    pytest.param(
        "apps:\n  - name: web\n    upstream: ${GG_TEST_UPSTREAM:-ftp://127.0.0.1/}\n",
        [
            "3:15: invalid value 'ftp://127.0.0.1/' for 'apps[0].upstream'; "
            "expected an absolute http:// or https:// URL such as 'http://127.0.0.1:8081/'"
        ],
        id="env-default-checked",
    ),
    pytest.param(
        f"{APP}  - name: web\n    upstream: {UPSTREAM}\n    path_prefix: /b/\n",
        ["4:11: duplicate app name 'web'; expected each app name once"],
        id="duplicate-app-name",
    ),
    pytest.param(
        f"apps:\n  - name: one\n    upstream: {UPSTREAM}\n    path_prefix: /erp\n  - name: two\n    upstream: {UPSTREAM}\n    path_prefix: /erp/\n",
        ["5:5: app 'two' has the same route as app 'one' (host *, path /erp/); expected a different host or path_prefix"],
        id="duplicate-route",
    ),
    pytest.param(
        f"apps:\n  - name: one\n    upstream: {UPSTREAM}\n    hosts: [erp.example.com]\n"
        f"  - name: two\n    upstream: {UPSTREAM}\n    hosts: [ERP.example.com]\n",
        ["5:5: app 'two' has the same route as app 'one' (host erp.example.com, path /); expected a different host or path_prefix"],
        id="duplicate-route-by-host",
    ),
    pytest.param(
        f"prefix: /tools/guidegate/\n{APP}    path_prefix: /tools/\n",
        ["5:18: path_prefix '/tools/' contains the reserved prefix '/tools/guidegate/'; expected a path outside it"],
        id="reserved-prefix-inside-app-prefix",
    ),
    pytest.param(
        f"{APP}    path_prefix: /__guidegate/web/\n",
        [
            "4:18: path_prefix '/__guidegate/web/' lies inside the reserved prefix '/__guidegate/', "
            "so the app would never be reached; expected a path outside it"
        ],
        id="app-prefix-inside-reserved-prefix",
    ),
    pytest.param(
        f"apps:\n  - name: web\n    upstream: [{UPSTREAM}\n",
        ["4:1: invalid YAML: while parsing a flow sequence, expected ',' or ']', but got '<stream end>'"],
        id="invalid-yaml",
    ),
    pytest.param(
        "apps:\n\t- name: web\n",
        ["2:1: invalid YAML: while scanning for the next token, found character '\\t' that cannot start any token"],
        id="invalid-yaml-tab",
    ),
    pytest.param(f"{APP}    name: other\n", ["4:5: duplicate key 'name' in 'apps[0]'; expected each key once"], id="duplicate-key"),
    pytest.param(
        f"{APP}    timeouts: {merge_bomb(9)}\n",
        # The position is the innermost anchor, the mapping that is repeated.
        ["4:105: document expands to more than 100000 values through aliases; expected a document that repeats itself less"],
        id="merge-key-bomb",
    ),
    pytest.param(
        f"apps: [&a {{name: web, upstream: '{UPSTREAM}'}}" + ", *a" * 1001 + "]\n",
        ["1:4060: invalid YAML: more than 1000 aliases; expected a document that repeats itself less (write the values out)"],
        id="alias-count",
    ),
    pytest.param("# " + "x" * (1024 * 1024) + "\n", ["1:1: file is 1048579 bytes; expected at most 1048576 bytes (split it into several files)"], id="file-too-large"),
    pytest.param("", ["1:1: missing key 'apps'; expected at least one app, each with a name and an upstream"], id="empty-file"),
    pytest.param("apps: []\n", ["1:7: no apps configured; expected at least one app with a name and an upstream"], id="no-apps"),
    pytest.param(
        "apps:\n  - name: web\n", ["2:5: missing key 'upstream' in 'apps[0]'; expected the upstream URL, e.g. 'http://127.0.0.1:8081/'"], id="missing-key"
    ),
    pytest.param(
        f"mode: production\n{APP}",
        ["1:7: production mode needs visitor.secret; expected a secret of at least 32 characters, e.g. secret: ${GUIDEGATE_SECRET}"],
        id="production-without-secret",
    ),
    pytest.param(
        f"trusted_proxies: [10.0.0.0/33]\n{APP}",
        ["1:19: invalid value '10.0.0.0/33' for 'trusted_proxies[0]'; expected an IP address or CIDR block such as '127.0.0.1' or '10.0.0.0/8'"],
        id="bad-cidr",
    ),
    pytest.param(
        f"listeners:\n  - port: 8443\n    tls:\n      certificate: cert.pem\n{APP}",
        ["4:7: missing key 'key' in 'listeners[0].tls'; expected PEM private key file, relative to the config file"],
        id="tls-without-key",
    ),
    pytest.param(
        f"listeners:\n  - port: 8443\n    tls: cert.pem\n{APP}",
        ["3:10: invalid value for 'listeners[0].tls': a single value; expected a mapping"],
        id="tls-not-mapping",
    ),
    pytest.param(
        f"listeners:\n  - port: 8443\n    tls:\n      certificate: cert.pem\n      key: key.pem\n{APP}",
        [
            "4:20: file 'cert.pem' not found at {dir}/cert.pem; expected a PEM file, relative to the config file",
            "5:12: file 'key.pem' not found at {dir}/key.pem; expected a PEM file, relative to the config file",
        ],
        id="tls-files-missing",
    ),
    pytest.param(
        "apps:\n  - name: web\n    upstream: https://127.0.0.1:8443/\n    ca_file: ca.pem\n",
        ["4:14: file 'ca.pem' not found at {dir}/ca.pem; expected a PEM file, relative to the config file"],
        id="ca-file-missing",
    ),
    pytest.param(
        f"{APP}    host_header: clinet\n",
        ["4:18: invalid value 'clinet' for 'apps[0].host_header'; expected one of: client, upstream (did you mean 'client'?)"],
        id="choice-with-hint",
    ),
    pytest.param(
        "apps:\n  - name: ERP App\n    upstream: http://127.0.0.1:8081/\n",
        ["2:11: invalid value 'ERP App' for 'apps[0].name'; expected lower-case letters, digits, '-' or '_', starting with a letter or digit"],
        id="bad-app-name",
    ),
    pytest.param(
        f"listeners:\n  - port: 8080\n  - port: 8080\n{APP}",
        ["3:5: duplicate listener 127.0.0.1:8080; expected each address once"],
        id="duplicate-listener",
    ),
    pytest.param(
        f"apps:\n  - name: one\n    upstream: {UPSTREAM}\n    path_prefix: erp\n    max_connections: 0\n",
        [
            "4:18: invalid value 'erp' for 'apps[0].path_prefix'; expected a path that starts with '/' such as '/' or '/erp/', without query or spaces",
            "5:22: invalid value 0 for 'apps[0].max_connections'; expected a number of at least 1",
        ],
        id="every-problem-listed",
    ),
]


@pytest.mark.parametrize(("text", "problems"), BROKEN)
def test_broken_config(tmp_path: Path, text: str, problems: list[str]) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ConfigError) as raised:
        load_config(path, environ={})

    expected = [f"{path}:{problem.replace('{dir}', str(tmp_path))}" for problem in problems]
    assert [str(problem) for problem in raised.value.problems] == expected


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b"apps:\n  - name: caf\xe9\n")

    with pytest.raises(ConfigError) as raised:
        load_config(path, environ={})

    assert str(raised.value) == f"{path}:1:1: file is not valid UTF-8 (byte 19); expected UTF-8 text"


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"

    with pytest.raises(ConfigError) as raised:
        load_config(path, environ={})

    assert str(raised.value) == f"{path}:1:1: cannot read file: No such file or directory; expected a readable YAML file"


ENVIRONMENT = [
    pytest.param("${GG_UPSTREAM:-http://127.0.0.1:9001/}", {}, "http://127.0.0.1:9001/", id="default-used"),
    pytest.param("${GG_UPSTREAM:-http://127.0.0.1:9001/}", {"GG_UPSTREAM": "http://127.0.0.1:9002"}, "http://127.0.0.1:9002/", id="set-wins"),
    pytest.param("${GG_UPSTREAM:-http://127.0.0.1:9001/}", {"GG_UPSTREAM": ""}, "http://127.0.0.1:9001/", id="empty-uses-default"),
    pytest.param("http://${GG_HOST}:${GG_PORT}/app", {"GG_HOST": "127.0.0.1", "GG_PORT": "9003"}, "http://127.0.0.1:9003/app/", id="several"),
]


@pytest.mark.parametrize(("value", "environ", "upstream"), ENVIRONMENT)
def test_environment_interpolated(tmp_path: Path, value: str, environ: dict[str, str], upstream: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"apps:\n  - name: web\n    upstream: {value}\n", encoding="utf-8")

    config = load_config(path, environ=environ)

    assert config.apps[0].upstream == upstream


def test_defaults_applied(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(APP, encoding="utf-8")

    config = load_config(path, environ={})

    app = config.apps[0]
    assert (config.prefix, config.workers, config.shutdown_timeout) == ("/__guidegate/", 1, 10.0)
    assert [(listener.host, listener.port, listener.tls) for listener in config.listeners] == [("127.0.0.1", 8080, None)]
    assert (app.path_prefix, app.host_header, app.tls_verify, app.max_request_body) == ("/", "upstream", True, 100 * 1024 * 1024)
    assert (app.timeouts.connect, app.timeouts.read) == (5.0, 60.0)
    assert config.base_dir == tmp_path
