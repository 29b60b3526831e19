"""Shutdown drain: uvicorn closes websockets with 1012 itself; HTTP streams (SSE, multipart) learn of it here."""

from __future__ import annotations

import asyncio
from types import FrameType

import uvicorn


class Drain:
    """Set once the process is asked to stop; open HTTP streams end with a coded 'reconnect' error."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self) -> None:
        self._loop = asyncio.get_running_loop()

    def begin(self) -> None:
        """Safe from a signal handler."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.started.set)


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, drain: Drain) -> None:
        super().__init__(config)
        self._drain = drain

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._drain.begin()
        super().handle_exit(sig, frame)
