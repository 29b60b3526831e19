"""`DirectText` on a real uvicorn server with the service's websocket protocol class: frames written straight
into the protocol and, while the transport is paused, through ASGI's `send`, arrive complete and in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import pytest
import uvicorn
from websockets.asyncio.client import connect

from tests.support.live_server import free_port
from web.direct_text import DirectText
from web.frame_writer import FrameWriter
from web.lean_websocket import LeanWebSocketProtocol

FRAMES = 100
FRAME_BYTES = 20_000


def frame(index: int) -> str:
    return f"{index:06d}" + "x" * (FRAME_BYTES - 6)


class Operation:
    active = True


class Recorder:
    def __init__(self) -> None:
        self.direct: list[bool] = []
        self.pending: list[int] = []


async def frames_app(recorder: Recorder, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "websocket"
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    direct = DirectText.of(send)
    recorder.direct.append(direct is not None)
    assert direct is not None
    writer = FrameWriter(send, limit=FRAMES, on_overflow=lambda: None)
    protocol = send.__self__  # uvicorn's protocol: asyncio calls its flow-control callbacks
    for index in range(FRAMES // 2):
        writer.write(frame(index), Operation())
    recorder.pending.append(writer.pending)
    # The transport passes its high-water mark (asyncio calls `pause_writing`): frames go through ASGI's send,
    # which waits, and queue behind it until `resume_writing`.
    protocol.pause_writing()
    for index in range(FRAMES // 2, FRAMES):
        writer.write(frame(index), Operation())
    recorder.pending.append(writer.pending)
    protocol.resume_writing()
    while (await receive())["type"] != "websocket.disconnect":
        pass


@pytest.fixture
async def server() -> AsyncIterator[tuple[int, Recorder]]:
    recorder = Recorder()
    port = free_port()

    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        await frames_app(recorder, scope, receive, send)

    config = uvicorn.Config(app, port=port, ws=LeanWebSocketProtocol, lifespan="off", log_level="warning")
    running = uvicorn.Server(config)
    task = asyncio.create_task(running.serve())
    while not running.started:
        await asyncio.sleep(0.01)
    yield port, recorder
    running.should_exit = True
    await asyncio.wait_for(task, 10)


async def test_frames_arrive_complete_and_in_order_across_a_paused_transport(server: tuple[int, Recorder]) -> None:
    port, recorder = server
    async with connect(f"ws://127.0.0.1:{port}/", max_size=None) as client:
        received = [await asyncio.wait_for(client.recv(), 10) for _ in range(FRAMES)]
    assert recorder.direct == [True]
    assert recorder.pending == [0, FRAMES // 2]  # straight in; then waiting behind the paused transport
    assert [text[:6] for text in received] == [f"{index:06d}" for index in range(FRAMES)]
    assert all(len(text) == FRAME_BYTES for text in received)


def test_any_other_send_goes_through_asgi() -> None:
    async def send(message: MutableMapping[str, Any]) -> None:
        del message

    assert DirectText.of(send) is None
