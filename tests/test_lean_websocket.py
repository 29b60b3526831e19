"""`MessageQueue` and `Flag`: what uvicorn's websocket protocol asks of `asyncio.Queue` and `asyncio.Event`."""

from __future__ import annotations

import asyncio

import pytest

from web.lean_websocket import Flag, MessageQueue


async def test_the_queue_hands_items_over_in_order_and_waits_when_empty() -> None:
    queue = MessageQueue()
    queue.put_nowait(1)
    queue.put_nowait(2)
    assert not queue.empty()
    assert [await queue.get(), await queue.get()] == [1, 2]
    assert queue.empty()
    reader = asyncio.create_task(queue.get())
    await asyncio.sleep(0.01)
    assert not reader.done()
    queue.put_nowait(3)
    assert await asyncio.wait_for(reader, 1) == 3


async def test_a_cancelled_get_loses_nothing() -> None:
    queue = MessageQueue()
    reader = asyncio.create_task(queue.get())
    await asyncio.sleep(0.01)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    queue.put_nowait("kept")
    assert await asyncio.wait_for(queue.get(), 1) == "kept"


async def test_the_flag_wakes_every_waiter_when_set_and_not_before() -> None:
    flag = Flag()
    assert not flag.is_set()
    waiters = [asyncio.create_task(flag.wait()) for _ in range(3)]
    await asyncio.sleep(0.01)
    assert not any(waiter.done() for waiter in waiters)
    flag.set()
    assert await asyncio.wait_for(asyncio.gather(*waiters), 1) == [True, True, True]
    assert await flag.wait()  # set: returns at once
    flag.clear()
    assert not flag.is_set()
    late = asyncio.create_task(flag.wait())
    await asyncio.sleep(0.01)
    assert not late.done()
    late.cancel()
    with pytest.raises(asyncio.CancelledError):
        await late
    flag.set()
    assert flag.is_set()
