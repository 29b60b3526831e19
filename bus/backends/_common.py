"""Pieces shared by the resilient backends: reconnect backoff, the bounded event buffer, payload checks."""

from __future__ import annotations

import asyncio
import logging

from broadcaster import Event

log = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 10_000


class Backoff:
    """Capped exponential delay between reconnect attempts: `initial`, doubling, never above `maximum`."""

    def __init__(self, initial: float, maximum: float) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError("backoff needs 0 < initial <= maximum")
        self._initial = initial
        self._maximum = maximum
        self._next = initial

    def reset(self) -> None:
        self._next = self._initial

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self._maximum)
        return delay


class EventBuffer:
    """The queue between a backend's reader and `next_published()`.

    broadcaster's backends buffer without limit. Here the queue is bounded: when the consumer falls that far
    behind, new messages are dropped with a warning; the hub fills such gaps from the event table."""

    def __init__(self, maxsize: int, *, name: str) -> None:
        if maxsize < 1:
            raise ValueError("queue_size must be at least 1")
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=maxsize)
        self._name = name
        self.dropped = 0

    def offer(self, channel: str, message: str) -> None:
        try:
            self._queue.put_nowait(Event(channel=channel, message=message))
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning(
                    "%s bus queue is full (%d messages): dropped a message on %s (%d dropped so far)",
                    self._name,
                    self._queue.maxsize,
                    channel,
                    self.dropped,
                )

    async def get(self) -> Event:
        return await self._queue.get()

    def qsize(self) -> int:
        return self._queue.qsize()


def require_text(message: object) -> str:
    """Only JSON strings travel on the bus, whatever the backend (memory:// would pass any object through)."""
    if not isinstance(message, str):
        raise TypeError(f"bus messages must be str (JSON), not {type(message).__name__}")
    return message
