"""Deletion of events older than the retention period, run periodically in the background."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from proxy.events.store import EventStore, StoreError

logger = logging.getLogger(__name__)

DAY = 86400.0


class Retention:
    """Deletes events older than `days` days, once on start and then every `interval` seconds."""

    def __init__(
        self, store: EventStore, days: int, interval: float, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.days = days
        self.interval = interval
        self.deleted = 0
        self.errors = 0
        self._clock = clock

    async def run_once(self) -> int:
        """Delete the events older than the retention period now; return how many were deleted."""
        cutoff = self._clock() - self.days * DAY
        deleted = await self.store.delete_older_than(cutoff)
        self.deleted += deleted
        if deleted:
            logger.info("retention deleted %d events older than %d days from %s", deleted, self.days, self.store.description)
        return deleted

    async def run(self) -> None:
        """Run `run_once` forever; a store error is logged and counted, and the next round tries again."""
        while True:
            try:
                await self.run_once()
            except StoreError as error:
                self.errors += 1
                logger.warning("retention could not delete old events from %s: %s", self.store.description, error)
            await asyncio.sleep(self.interval)
