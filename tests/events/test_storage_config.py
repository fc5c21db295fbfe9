"""Tests of the storage configuration section: defaults, durations and bounds."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.config.storage import StorageConfig
from proxy.errors import InvalidFileError
from proxy.yamlbind import load_file


def load(tmp_path: Path, text: str) -> StorageConfig:
    path = tmp_path / "storage.yaml"
    path.write_text(text, encoding="utf-8")
    return load_file(path, StorageConfig, display="storage.yaml")


def test_storage_config_defaults(tmp_path: Path) -> None:
    config = load(tmp_path, "{}")
    assert config == StorageConfig()
    assert (config.queue_size, config.batch_size, config.flush_interval) == (10_000, 500, 0.5)
    assert (config.retry_delay, config.retry_max_delay, config.retention_interval) == (0.5, 30.0, 3600.0)
    assert (config.pool_size, config.connect_timeout, config.retention_days) == (4, 5.0, 365)


def test_storage_config_durations(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        "backend: postgresql\ndsn: postgresql://gg@db/gg\nretry_delay: 250ms\nretry_max_delay: 1m\n"
        "retention_interval: 6h\nflush_interval: 2s\nconnect_timeout: 10\n",
    )
    assert (config.backend, config.dsn) == ("postgresql", "postgresql://gg@db/gg")
    assert (config.retry_delay, config.retry_max_delay, config.retention_interval) == (0.25, 60.0, 21600.0)
    assert (config.flush_interval, config.connect_timeout) == (2.0, 10.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "pool_size: 0", "storage.yaml:1:12: invalid value 0 for 'pool_size'; expected a number from 1 to 100", id="pool"
        ),
        pytest.param(
            "retry_delay: soon",
            "storage.yaml:1:14: invalid value 'soon' for 'retry_delay'; "
            "expected a duration such as 5, '250ms', '30s', '5m' or '1h'",
            id="retry-delay",
        ),
        pytest.param(
            "retention_days: 0",
            "storage.yaml:1:17: invalid value 0 for 'retention_days'; expected a number of at least 1",
            id="retention",
        ),
    ],
)
def test_storage_config_rejects(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InvalidFileError) as caught:
        load(tmp_path, text)
    assert str(caught.value) == message
