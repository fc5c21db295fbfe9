"""Reloading rules: atomic swaps under concurrent readers, rejected sets, counters and the polling task."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from pathlib import Path

import pytest

from proxy.errors import InvalidFileError
from proxy.ruleset.watcher import RuleWatcher


def rules_text(version: str) -> str:
    """A rule file whose every rule carries `version` in its id."""
    return (
        "guides:\n"
        f"  - {{id: {version}-one, kind: announcement, title: One, body: B, pages: /po}}\n"
        f"  - {{id: {version}-two, kind: announcement, title: Two, body: B, pages: '/po/**'}}\n"
        "features:\n"
        f"  - {{id: {version}-feature, title: F, requests: /po}}\n"
    )


def write(path: Path, text: str) -> None:
    """Write a file and move its modification time on, so that a change is seen at once."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before + 10_000_000, before + 10_000_000))


@pytest.fixture
def rule_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "rules" / "erp.yaml"
    path.parent.mkdir()
    write(path, rules_text("old"))
    return path


def guide_ids(watcher: RuleWatcher) -> list[str]:
    return [match.guide.id for match in watcher.ruleset.guides_for_page("erp", "/po")]


def test_watcher_initial_load(rule_file: Path) -> None:
    watcher = RuleWatcher({"erp": [rule_file.parent]}, clock=lambda: 1000.0)
    watcher.load_initial()
    assert guide_ids(watcher) == ["old-one", "old-two"]
    stats = watcher.stats
    assert (stats.rules_loaded, stats.files_loaded, stats.reloads, stats.reload_errors) == (3, 1, 0, 0)
    assert stats.last_good_load == 1000.0
    assert stats.last_errors == ()


def test_watcher_initial_load_invalid(rule_file: Path) -> None:
    write(rule_file, "guides: [{id: x, kind: tipp}]\n")
    watcher = RuleWatcher({"erp": [rule_file]})
    with pytest.raises(InvalidFileError):
        watcher.load_initial()
    assert watcher.ruleset.apps == {}


def test_watcher_reload_swaps(rule_file: Path) -> None:
    watcher = RuleWatcher({"erp": [rule_file]})
    watcher.load_initial()
    write(rule_file, rules_text("new"))
    assert watcher.reload_now() is True
    assert guide_ids(watcher) == ["new-one", "new-two"]
    assert watcher.stats.reloads == 1


def test_watcher_bad_reload_keeps_old(rule_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    watcher = RuleWatcher({"erp": [rule_file]}, clock=lambda: 5.0)
    watcher.load_initial()
    old = watcher.ruleset
    write(rule_file, rules_text("new").replace("kind: announcement", "kind: anouncement", 1))
    with caplog.at_level(logging.ERROR, logger="proxy.ruleset.watcher"):
        assert watcher.reload_now() is False
    assert watcher.ruleset is old
    assert guide_ids(watcher) == ["old-one", "old-two"]
    expected = (
        "rules/erp.yaml:2:25: invalid value 'anouncement' for 'guides[0].kind'; expected one of: walkthrough, tip, "
        "hotspot, announcement, banner, checklist (did you mean 'announcement'?)"
    )
    assert watcher.stats.last_errors == (expected,)
    assert (watcher.stats.reload_errors, watcher.stats.reloads, watcher.stats.last_attempt) == (1, 0, 5.0)
    assert expected in caplog.text
    assert "the last good rules keep serving" in caplog.text

    write(rule_file, rules_text("fixed"))
    assert watcher.reload_now() is True
    fixed = watcher.stats
    assert fixed.last_errors == ()
    assert guide_ids(watcher) == ["fixed-one", "fixed-two"]


def test_watcher_concurrent_readers_see_one_set(rule_file: Path) -> None:
    watcher = RuleWatcher({"erp": [rule_file]})
    watcher.load_initial()
    versions = ["old", "new"]
    mixed: list[tuple[str, ...]] = []
    seen: set[str] = set()
    stop = threading.Event()

    def read() -> None:
        deadline = time.monotonic() + 10
        while not stop.is_set() and time.monotonic() < deadline:
            ruleset = watcher.ruleset
            guides = [match.guide.id for match in ruleset.guides_for_page("erp", "/po")]
            features = [match.feature.id for match in ruleset.match_request("erp", "/po").features]
            names = tuple(guides + features)
            prefixes = {name.split("-")[0] for name in names}
            if len(prefixes) != 1 or len(names) != 3:
                mixed.append(names)
            seen.update(prefixes)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    try:
        for round_number in range(30):
            write(rule_file, rules_text(versions[round_number % 2]))
            assert watcher.reload_now() is True
    finally:
        stop.set()
        for reader in readers:
            reader.join(timeout=10)
    assert mixed == []
    assert seen == {"old", "new"}
    assert watcher.stats.reloads == 30


async def wait_for(condition: object, seconds: float = 5.0) -> bool:
    """Poll a callable until it returns true, at most `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.02)
    return False


async def test_watcher_polls_changes(rule_file: Path) -> None:
    watcher = RuleWatcher({"erp": [rule_file.parent]}, interval=0.05)
    watcher.load_initial()
    task = asyncio.create_task(watcher.watch(), name="rule-watcher-test")
    try:
        write(rule_file, rules_text("new"))
        assert await wait_for(lambda: guide_ids(watcher) == ["new-one", "new-two"])

        write(rule_file, "guides: [{id: broken, kind: tipp}]\n")
        assert await wait_for(lambda: watcher.stats.reload_errors == 1)
        assert guide_ids(watcher) == ["new-one", "new-two"]

        (rule_file.parent / "more.yaml").write_text("features: [{id: extra, title: E, requests: /x}]\n", encoding="utf-8")
        write(rule_file, rules_text("third"))
        assert await wait_for(lambda: guide_ids(watcher) == ["third-one", "third-two"])
        assert watcher.stats.files_loaded == 2
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_watcher_request_reload(rule_file: Path) -> None:
    watcher = RuleWatcher({"erp": [rule_file]}, interval=30)
    watcher.load_initial()
    task = asyncio.create_task(watcher.watch(), name="rule-watcher-test")
    try:
        await asyncio.sleep(0.05)
        rule_file.write_text(rules_text("signal"), encoding="utf-8")
        watcher.request_reload()
        assert await wait_for(lambda: guide_ids(watcher) == ["signal-one", "signal-two"])
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_watcher_request_reload_not_running(rule_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    watcher = RuleWatcher({"erp": [rule_file]})
    with caplog.at_level(logging.WARNING, logger="proxy.ruleset.watcher"):
        watcher.request_reload()
    assert "the rule watcher is not running" in caplog.text
