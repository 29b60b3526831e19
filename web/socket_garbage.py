"""Full garbage collections after websockets close, so a disconnected socket's memory goes back promptly.

A websocket's objects (uvicorn's protocol and transport, its tasks, Starlette's and Strawberry's handlers)
reference each other in cycles, which only the cyclic collector frees, and an open socket lives long enough
for them to reach the oldest generation. `server.tune_garbage_collector` makes full collections rare, so that
fan-out over thousands of open sockets is not stalled by them; without a collection of their own, closed
sockets would pile up until one, and RSS would ratchet up with every wave of reconnections (BENCHMARKS.md, P3).

So closes schedule a full collection, and then hand the heap's free pages back to the system: once closes have
paused for `QUIET_SECONDS` (a wave of disconnections has passed: its sockets' tasks have finished, so their
objects are garbage by then), at most every `MIN_INTERVAL_SECONDS` under steady churn, and `QUIET_SECONDS` after
the `MAX_CLOSES`th close even if closes go on."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

QUIET_SECONDS = 1.0
MIN_INTERVAL_SECONDS = 5.0
MAX_CLOSES = 1000


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, or None on another C library."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    trim: Callable[[int], int] | None = getattr(ctypes.CDLL(name), "malloc_trim", None)
    return trim


_TRIM = _malloc_trim()


def release_free_heap() -> None:
    """Give the heap's free pages back to the system (glibc). A wave of sockets frees memory in holes between
    longer-lived blocks, which glibc would otherwise keep resident; the next wave does not always fit in them
    (asyncio reads into 256 KiB buffers), so without this RSS creeps up by ~1.5 KiB per socket per wave."""
    if _TRIM is not None:
        _TRIM(0)


class SocketGarbage:
    def __init__(
        self,
        *,
        quiet_seconds: float = QUIET_SECONDS,
        min_interval_seconds: float = MIN_INTERVAL_SECONDS,
        max_closes: int = MAX_CLOSES,
    ) -> None:
        self._quiet = quiet_seconds
        self._min_interval = min_interval_seconds
        self._max_closes = max_closes
        self._closes = 0
        self._last_collection = time.monotonic()
        self._timer: asyncio.Handle | None = None
        self.collections = 0

    def socket_closed(self) -> None:
        self._closes += 1
        if self._timer is not None:
            if self._closes >= self._max_closes:
                return  # many closes: the collection already scheduled goes ahead, however many more come
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(self._quiet, self._collect_when_due)

    def _collect_when_due(self) -> None:
        wait = self._last_collection + self._min_interval - time.monotonic()
        if wait > 0 and self._closes < self._max_closes:
            self._timer = asyncio.get_running_loop().call_later(wait, self._collect_when_due)
        else:
            self._collect()

    def _collect(self) -> None:
        self._timer = None
        closes, self._closes = self._closes, 0
        started = time.perf_counter()
        freed = gc.collect()
        release_free_heap()
        self._last_collection = time.monotonic()
        self.collections += 1
        log.debug(
            "garbage collected after websocket closes",
            extra={"closes": closes, "freed": freed, "seconds": round(time.perf_counter() - started, 4)},
        )
