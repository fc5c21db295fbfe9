"""The cost-floor harness: its figures from fixed runs, its configuration, and the variants module."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest
from multidict import CIMultiDict

from bench.floors import (
    CAPTURE_VARIANTS,
    INJECTION_VARIANTS,
    PLAIN_PREFIX,
    VARIANT_VARIABLE,
    VARIANTS_FOLDER,
    Figures,
    Run,
    add_plain_app,
    variant_env,
)
from bench.guidegate import benchmark_config


def load_variants() -> ModuleType:
    """Import bench/variants/sitecustomize.py under another name, without a variant chosen."""
    spec = importlib.util.spec_from_file_location("bench_cost_variants", VARIANTS_FOLDER / "sitecustomize.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    saved = os.environ.pop(VARIANT_VARIABLE, None)
    try:
        spec.loader.exec_module(module)
    finally:
        if saved is not None:
            os.environ[VARIANT_VARIABLE] = saved
    return module


def test_figures_from_pairs() -> None:
    figures = Figures("product", "as shipped")
    figures.pairs = [
        (Run(900.0, 12.0, 110.0), Run(1000.0, 10.0, 100.0)),
        (Run(800.0, 15.0, 125.0), Run(1000.0, 11.0, 100.0)),
        (Run(950.0, 10.5, 104.0), Run(1000.0, 10.0, 100.0)),
    ]

    assert figures.ratios() == [0.9, 0.8, 0.95]
    assert figures.ratio_median == 0.9
    assert figures.ratio_mean == pytest.approx(0.883333, abs=1e-6)
    assert figures.ratio_error == pytest.approx(0.0440958, abs=1e-6)
    assert figures.cpu_added_us == 10.0
    assert figures.p99_added_ms == 2.0


def test_figures_error_of_one_pair() -> None:
    figures = Figures("product", "as shipped", [(Run(900.0, 1.0, 1.0), Run(1000.0, 1.0, 1.0))])

    assert figures.ratio_error == 0.0


def test_plain_app_added(tmp_path: Path) -> None:
    document = benchmark_config("http://127.0.0.1:1", 2, tmp_path)

    add_plain_app(document)

    main, plain = document["apps"]
    assert (main["name"], main["rules"], main["inject"]["enabled"]) == ("demo", [], True)
    assert (plain["name"], plain["path_prefix"], plain["rules"], plain["inject"]["enabled"]) == ("plain", PLAIN_PREFIX, [], False)
    assert plain["upstream"] == main["upstream"]
    assert plain["inject"]["lookahead"] == main["inject"]["lookahead"]


def test_variant_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", "/opt/extra")

    env = variant_env("inject-minimal")

    assert env["PYTHONPATH"] == f"{VARIANTS_FOLDER}{os.pathsep}/opt/extra"
    assert env[VARIANT_VARIABLE] == "inject-minimal"


def test_variant_environment_without_pythonpath(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTHONPATH", raising=False)

    assert variant_env("product")["PYTHONPATH"] == str(VARIANTS_FOLDER)


def test_unknown_variant_rejected() -> None:
    variants = load_variants()

    with pytest.raises(SystemExit) as raised:
        variants.apply("inject-fast")

    assert str(raised.value) == (
        "GUIDEGATE_BENCH_VARIANT='inject-fast' is not a variant; expected one of product, inject-control, "
        "inject-decide-only, inject-minimal, capture-control, capture-identify, capture-no-store"
    )


def test_floors_variants_known() -> None:
    variants = load_variants()

    assert set(INJECTION_VARIANTS) <= set(variants.VARIANTS)
    assert set(CAPTURE_VARIANTS) <= set(variants.VARIANTS)
    assert variants.VARIANT_VARIABLE == VARIANT_VARIABLE


def test_product_variant_changes_nothing() -> None:
    from proxy.injection import Injector

    before = dict(vars(Injector))

    load_variants().apply("product")

    assert dict(vars(Injector)) == before


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        pytest.param(b"<html><head><title>t</title></head><body>x", b"<html><head><title>t</title><s></head><body>x", id="before-head-end"),
        pytest.param(b"<html><body>no head end", b"<html><body>no head end", id="no-head-end"),
    ],
)
def test_minimal_splice(page: bytes, expected: bytes) -> None:
    splice = load_variants().MinimalSplice(b"<s>")

    pieces = splice.feed_view(page)

    assert b"".join(bytes(piece) for piece in pieces) == expected
    assert splice.passing_through is True
    assert splice.finish() == b""


def test_minimal_splice_drops_length() -> None:
    splice = load_variants().MinimalSplice(b"<s>")
    headers = CIMultiDict({"Content-Type": "text/html", "Content-Length": "40"})

    assert dict(splice.headers(headers)) == {"Content-Type": "text/html"}


def test_missing_attribute_rejected() -> None:
    variants = load_variants()

    class Hook:
        pass

    with pytest.raises(SystemExit) as raised:
        variants._replace(Hook, "on_complete", None)

    assert str(raised.value) == (
        f"{__name__}.Hook has no attribute 'on_complete' to replace; update bench/variants"
    )
