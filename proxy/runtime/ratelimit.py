"""Token buckets per key (a visitor id), bounded in the number of keys they track."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable


class TokenBuckets:
    """One token bucket per key: `capacity` tokens at most, refilled at `rate` tokens per second.

    Past `max_keys` the least recently used key is forgotten, which refills its bucket; memory
    stays bounded whatever the number of visitors.
    """

    def __init__(
        self, *, capacity: float, rate: float, max_keys: int = 50_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if capacity <= 0 or rate <= 0:
            raise ValueError(f"token bucket capacity {capacity} and rate {rate} must both be above 0")
        self.capacity = capacity
        self.rate = rate
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str, tokens: float) -> float:
        """Take `tokens` from the key's bucket and return 0, or take nothing and return the seconds to wait.

        A request for more than `capacity` tokens waits for a full bucket and takes all of it.
        """
        now = self._clock()
        level, since = self._buckets.get(key, (self.capacity, now))
        level = min(self.capacity, level + (now - since) * self.rate)
        needed = min(tokens, self.capacity)
        if level < needed:
            self._store(key, level, now)
            return (needed - level) / self.rate
        self._store(key, level - needed, now)
        return 0.0

    def _store(self, key: str, level: float, now: float) -> None:
        self._buckets[key] = (level, now)
        self._buckets.move_to_end(key)
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)


def retry_after_seconds(wait: float) -> int:
    """Round a wait up to whole seconds for a Retry-After header (at least 1)."""
    return max(1, math.ceil(wait))
