"""A logger wrapper that writes each kind of repeated failure at most once per interval."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable

MAX_KEYS = 1000
"""Distinct failure kinds tracked at once; past this the oldest are forgotten."""


class RateLimitedLog:
    """Write a warning per key at most once per `interval` seconds, with a count of those held back.

    Safe to call from several threads, because page learning runs in worker threads.
    """

    def __init__(
        self,
        logger: logging.Logger,
        *,
        interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[Hashable, tuple[float, int]] = {}
        self.requested = 0
        """Calls of `warning` so far, logged or held back; a caller compares it before and after some work."""

    def warning(self, key: Hashable, message: str, *args: object, exc_info: bool = False) -> None:
        """Log `message % args` unless the same key was logged less than `interval` seconds ago."""
        now = self._clock()
        with self._lock:
            self.requested += 1
            previous = self._last.get(key)
            if previous is not None and now - previous[0] < self._interval:
                self._last[key] = (previous[0], previous[1] + 1)
                return
            held_back = previous[1] if previous is not None else 0
            self._last.pop(key, None)
            self._last[key] = (now, 0)
            if len(self._last) > MAX_KEYS:
                del self._last[next(iter(self._last))]
        if held_back:
            self._logger.warning(
                message + " (%d more since the last report)", *args, held_back, exc_info=exc_info
            )
        else:
            self._logger.warning(message, *args, exc_info=exc_info)
