"""A file loaded once and reloaded when its modification time or size changes, checked at most once per interval."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from proxy.errors import GuidegateError

logger = logging.getLogger(__name__)

T = TypeVar("T")


class WatchedFile(Generic[T]):
    """The parsed content of a file, kept current by a cheap `stat` on access.

    The constructor loads the file and lets its error propagate, so a broken file stops start-up.
    Later, a file that fails to load keeps the last good content in use, and `on_error` receives
    the error to log. `get` is meant for one thread (the event loop).
    """

    def __init__(
        self,
        path: Path,
        load: Callable[[Path], T],
        *,
        on_error: Callable[[Exception], None],
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self._load = load
        self._on_error = on_error
        self._interval = interval
        self._clock = clock
        self._signature = self._stat()
        self._value = load(path)
        self._checked = clock()

    def get(self) -> T:
        """Return the current content, reloading first when the file changed and the interval has passed."""
        now = self._clock()
        if now - self._checked >= self._interval:
            self._checked = now
            self.reload_if_changed()
        return self._value

    def reload_if_changed(self) -> bool:
        """Reload the file now if its modification time, size or inode changed; return whether it was reloaded."""
        try:
            signature = self._stat()
        except OSError as error:
            self._on_error(error)
            return False
        if signature == self._signature:
            return False
        # Remember the new signature even when loading fails, so a broken file is parsed once, not every second.
        self._signature = signature
        try:
            value = self._load(self.path)
        except (GuidegateError, OSError, ValueError) as error:
            self._on_error(error)
            return False
        self._value = value
        logger.info("reloaded %s", self.path)
        return True

    def _stat(self) -> tuple[int, int, int]:
        status = self.path.stat()
        return (status.st_mtime_ns, status.st_size, status.st_ino)
