"""uvicorn's websockets-sansio protocol, lighter on each of thousands of idle sockets.

- uvicorn keeps the upgrade request (every header, parsed by websockets) and the handshake response on the
  protocol for the connection's whole life, though nothing reads them after the handshake has been sent: they
  are dropped at the first message the client sends after it (its `connection_init`). The ASGI scope keeps its
  own copy of the headers, as before.
- Its receive queue (an `asyncio.Queue`: three deques and an event with a fourth) and its `writable` event (a
  fifth) become `MessageQueue` and `Flag`, which do what uvicorn asks of them (`put_nowait`, `get`, `empty`;
  `set`, `clear`, `is_set`, `wait`) with a list made only when something waits or queues."""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class MessageQueue:
    """A FIFO for one reader: `put_nowait` never blocks, `get` waits for an item."""

    __slots__ = ("_items", "_reader")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._reader: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        if self._reader is not None and not self._reader.done():
            self._reader.set_result(None)

    async def get(self) -> Any:
        while not self._items:
            self._reader = asyncio.get_running_loop().create_future()
            try:
                await self._reader
            finally:
                self._reader = None
        return self._items.pop(0)

    def empty(self) -> bool:
        return not self._items


class Flag:
    """`asyncio.Event`'s `set`, `clear`, `is_set` and `wait`, with no waiter list until something waits."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        if self._set:
            return
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> bool:
        if self._set:
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)
        return True


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = MessageQueue()  # type: ignore[assignment]
        self.writable = Flag()  # type: ignore[assignment]
        self.writable.set()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.handshake_complete and "response" in self.__dict__:
            del self.request
            del self.response
