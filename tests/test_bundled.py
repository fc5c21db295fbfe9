"""The browser runtime and the demo rules reach the package through proxy/bundled, so a wheel carries them."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from proxy.commands.demo import DEMO_RULES
from proxy.runtime.assets import ASSET_TYPES, INJECTABLES

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "proxy" / "bundled"


@pytest.mark.parametrize(
    ("link", "target"),
    [
        pytest.param("injectables", "../../injectables", id="injectables"),
        pytest.param("demo-rules", "../../rules/demo", id="demo-rules"),
    ],
)
def test_bundled_link_is_relative(link: str, target: str) -> None:
    path = BUNDLED / link
    assert path.is_symlink()
    # A relative link works wherever the checkout is.
    assert os.readlink(path) == target


def test_runtime_folder_in_checkout() -> None:
    assert INJECTABLES == ROOT / "injectables"
    assert sorted(path.name for path in INJECTABLES.iterdir()) == sorted(ASSET_TYPES)


def test_demo_rules_in_checkout() -> None:
    assert DEMO_RULES == ROOT / "rules" / "demo"
    assert (DEMO_RULES / "roles.yaml").is_file()


def test_wheel_includes_bundled_files() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "bundled/**/*" in project["tool"]["setuptools"]["package-data"]["proxy"]
