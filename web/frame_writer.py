"""Writes ready-made text frames to one websocket, in order, without a task per frame.

A frame is sent inline while the socket takes it (straight into uvicorn's protocol, `web/direct_text.py`, or
else by running ASGI's `send` eagerly, `start_eagerly`); once a send has to wait (the client stopped
reading and the transport paused), later frames queue behind it, and a client `limit` frames behind is cut off:
memory per socket stays bounded and one slow client never holds up the fan-out to the others."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Coroutine, MutableMapping
from typing import Any

from core.eager import start_eagerly
from observability.metrics import EVENTS_DROPPED
from schema.context import FrameOwner
from web.direct_text import DirectText

Send = Callable[[MutableMapping[str, Any]], Coroutine[Any, Any, None]]


class FrameWriter:
    __slots__ = ("_backlog", "_direct", "_limit", "_on_overflow", "_send", "_waiting", "closed")

    def __init__(self, send: Send, *, limit: int, on_overflow: Callable[[], None]) -> None:
        self._send = send
        self._direct = DirectText.of(send)
        self._limit = limit
        self._on_overflow = on_overflow
        # Made when a send first has to wait: an empty deque is 600 B, on every one of thousands of sockets.
        self._backlog: deque[tuple[str, FrameOwner]] | None = None
        self._waiting: asyncio.Future[None] | None = None
        self.closed = False

    @property
    def pending(self) -> int:
        """Frames not yet handed to the transport (the one being sent included)."""
        return len(self._backlog or ()) + (self._waiting is not None)

    def write(self, frame: str, owner: FrameOwner) -> None:
        if self.closed:
            return
        if self._waiting is None:
            self._start(frame)
        elif self.pending + 1 > self._limit:
            EVENTS_DROPPED.labels(reason="subscriber_too_slow").inc(self.pending)
            self._gone()
            self._on_overflow()
        else:
            if self._backlog is None:
                self._backlog = deque()
            self._backlog.append((frame, owner))

    def _start(self, frame: str) -> None:
        if self._direct is not None and self._direct.write(frame):
            return
        coroutine = self._send({"type": "websocket.send", "text": frame})
        try:
            self._waiting = start_eagerly(coroutine)
        except Exception:  # the socket is closing or gone: nothing more will be sent on it
            self._gone()
            return
        if self._waiting is not None:
            self._waiting.add_done_callback(self._sent)

    def _sent(self, sending: asyncio.Future[None]) -> None:
        self._waiting = None
        if sending.cancelled() or sending.exception() is not None:
            self._gone()
            return
        while self._backlog and self._waiting is None and not self.closed:
            frame, owner = self._backlog.popleft()
            if owner.active:
                self._start(frame)
        if not self._backlog:
            self._backlog = None

    def _gone(self) -> None:
        self.closed = True
        self._backlog = None
