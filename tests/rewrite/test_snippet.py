"""The snippet tag: exact bytes, escaping, XHTML, and recognising a runtime already in the page."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from proxy.rewrite import RuntimeLocation, build_snippet, is_runtime_tag


def test_snippet_bytes() -> None:
    tag = build_snippet(
        origin="https://erp.example.com", prefix="/__guidegate/", version="1.0.0", app="erp", nonce=None, xhtml=False
    )

    assert tag == (
        b'<script src="https://erp.example.com/__guidegate/runtime/1.0.0/guidegate.js" defer="defer" '
        b'data-guidegate-app="erp"></script>'
    )


def test_snippet_nonce_and_escaping() -> None:
    tag = build_snippet(
        origin="http://h\u00e9.example:8080", prefix="/gg/", version="2", app='a"<b>&', nonce="n+/=", xhtml=False
    )

    assert tag == (
        b'<script src="http://h&#233;.example:8080/gg/runtime/2/guidegate.js" defer="defer" '
        b'data-guidegate-app="a&quot;&lt;b&gt;&amp;" nonce="n+/="></script>'
    )


def test_snippet_xhtml_is_well_formed() -> None:
    tag = build_snippet(origin="https://e.example", prefix="/p/", version="1", app="erp", nonce="x", xhtml=True)
    document = b'<h:html xmlns:h="http://www.w3.org/1999/xhtml"><h:head>' + tag + b"</h:head></h:html>"

    script = ElementTree.fromstring(document)[0][0]
    assert script.tag == "{http://www.w3.org/1999/xhtml}script"
    assert script.get("defer") == "defer"


def test_runtime_location_urls() -> None:
    location = RuntimeLocation("https://e.example", "/p/", "3")

    assert location.script_url == "https://e.example/p/runtime/3/guidegate.js"
    assert location.connect_url == "https://e.example/p/"
    assert location.config_url == "https://e.example/p/config"
    assert location.style_url == "https://e.example/p/runtime/"


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        pytest.param(b'<script data-guidegate-app="erp">', True, id="marker"),
        pytest.param(b"<SCRIPT DATA-GUIDEGATE-APP=erp>", True, id="upper-case"),
        pytest.param(b"<script src=a.js data-guidegate-app>", True, id="no-value"),
        pytest.param(b"<script data-guidegate-app-version=1>", False, id="longer-name"),
        pytest.param(b"<script xdata-guidegate-app=1>", False, id="prefixed-name"),
        pytest.param(b"<script src=a.js>", False, id="other-script"),
    ],
)
def test_is_runtime_tag(tag: bytes, expected: bool) -> None:
    assert is_runtime_tag(tag) is expected
