"""`FrameWriter`: inline sends while the socket takes them, order kept behind a send that waits, a bounded backlog."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

from web.frame_writer import FrameWriter


class Operation:
    def __init__(self) -> None:
        self.active = True


OPERATION = Operation()


class PausableSocket:
    """A send that completes at once unless paused, as uvicorn's does while the transport is paused."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.writable = asyncio.Event()
        self.writable.set()

    async def send(self, message: MutableMapping[str, Any]) -> None:
        await self.writable.wait()
        self.sent.append(message["text"])


async def test_frames_leave_inline_while_the_socket_takes_them() -> None:
    socket = PausableSocket()
    writer = FrameWriter(socket.send, limit=3, on_overflow=lambda: None)
    for frame in ("a", "b", "c", "d"):
        writer.write(frame, OPERATION)
    assert socket.sent == ["a", "b", "c", "d"]  # no await in between: nothing waited
    assert writer.pending == 0


async def test_frames_behind_a_waiting_send_keep_their_order() -> None:
    socket = PausableSocket()
    writer = FrameWriter(socket.send, limit=5, on_overflow=lambda: None)
    socket.writable.clear()
    for frame in ("a", "b", "c"):
        writer.write(frame, OPERATION)
    assert socket.sent == [] and writer.pending == 3
    socket.writable.set()
    await asyncio.sleep(0.01)
    assert socket.sent == ["a", "b", "c"] and writer.pending == 0
    writer.write("d", OPERATION)
    assert socket.sent == ["a", "b", "c", "d"]


async def test_a_client_limit_frames_behind_is_cut_off_once() -> None:
    socket = PausableSocket()
    overflows: list[int] = []
    writer = FrameWriter(socket.send, limit=3, on_overflow=lambda: overflows.append(1))
    socket.writable.clear()
    for frame in ("a", "b", "c", "d", "e"):
        writer.write(frame, OPERATION)
    assert overflows == [1] and writer.closed
    socket.writable.set()
    await asyncio.sleep(0.01)
    assert socket.sent == ["a"]  # the one already handed over; the backlog is dropped


async def test_a_send_that_fails_closes_the_writer_quietly() -> None:
    async def gone(message: MutableMapping[str, Any]) -> None:
        raise RuntimeError("Unexpected ASGI message 'websocket.send', after sending 'websocket.close'.")

    writer = FrameWriter(gone, limit=3, on_overflow=lambda: None)
    writer.write("a", OPERATION)
    assert writer.closed
    writer.write("b", OPERATION)  # ignored


async def test_frames_of_an_operation_that_ended_are_dropped_from_the_backlog() -> None:
    socket = PausableSocket()
    writer = FrameWriter(socket.send, limit=10, on_overflow=lambda: None)
    ended, running = Operation(), Operation()
    socket.writable.clear()
    writer.write("ended-1", ended)  # already handed to the send: it leaves
    writer.write("ended-2", ended)
    writer.write("running-1", running)
    writer.write("ended-3", ended)
    ended.active = False
    socket.writable.set()
    await asyncio.sleep(0.01)
    assert socket.sent == ["ended-1", "running-1"]
