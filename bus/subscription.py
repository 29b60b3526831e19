"""A subscriber's bounded queue: a reader that falls behind is cut off, never buffered without limit."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from observability.metrics import EVENTS_DROPPED
from services.event_stream import SubscriberOverflow
from services.records import EventRecord


class Subscription:
    def __init__(self, max_pending: int, on_overflow: Callable[[], None] | None = None) -> None:
        self._queue: asyncio.Queue[EventRecord | None] = asyncio.Queue(maxsize=max_pending)
        self._on_overflow = on_overflow
        self.overflowed = False

    def deliver(self, event: EventRecord) -> None:
        if self.overflowed:
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            EVENTS_DROPPED.labels(reason="subscriber_too_slow").inc(self._queue.qsize() + 1)
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queue.put_nowait(None)
            if self._on_overflow is not None:
                self._on_overflow()

    async def next(self) -> EventRecord:
        event = await self._queue.get()
        if event is None:
            raise SubscriberOverflow
        return event

    @property
    def pending(self) -> int:
        return self._queue.qsize()
