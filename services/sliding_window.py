"""A sliding window of slots per key, kept in this process (the per-client introspection rate limit)."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

DEFAULT_MAX_KEYS = 100_000


class SlidingWindow:
    """At most `limit` slots per key within the last `window` seconds.

    Memory is bounded: at most `max_keys` keys (the least recently used goes first), each holding at most
    `limit` timestamps."""

    def __init__(
        self,
        *,
        limit: int,
        window: float,
        max_keys: int = DEFAULT_MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = limit
        self._window = window
        self._max_keys = max_keys
        self._clock = clock
        self._slots: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._slots)

    def try_take(self, key: str) -> float | None:
        """Take a slot; returns its stamp (to give it back), or None when the key is at its limit."""
        now = self._clock()
        slots = self._slots.get(key)
        if slots is None:
            self._evict(now)
            slots = self._slots[key] = deque()
        else:
            self._slots.move_to_end(key)
            _drop_older(slots, now - self._window)
        if len(slots) >= self._limit:
            return None
        slots.append(now)
        return now

    def give_back(self, key: str, stamp: float) -> None:
        slots = self._slots.get(key)
        if slots is None:
            return
        try:
            slots.remove(stamp)
        except ValueError:
            return
        if not slots:
            del self._slots[key]

    def _evict(self, now: float) -> None:
        """Drop keys whose slots have all expired (oldest use first), then the least recently used if full."""
        horizon = now - self._window
        while self._slots:
            key, slots = next(iter(self._slots.items()))
            if len(self._slots) < self._max_keys and (not slots or slots[-1] > horizon):
                return
            del self._slots[key]


def _drop_older(slots: deque[float], horizon: float) -> None:
    while slots and slots[0] <= horizon:
        slots.popleft()
