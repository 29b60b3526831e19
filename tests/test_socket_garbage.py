"""`SocketGarbage`: closed sockets' reference cycles are collected after a pause in closes, at most so often,
and soon after many closes even if they go on."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from web.socket_garbage import SocketGarbage


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> weakref.ref[Node]:
    """Two objects that only reference each other: freed by the cyclic collector, never by refcounts."""
    first, second = Node(), Node()
    first.other, second.other = second, first
    return weakref.ref(first)


@pytest.fixture(autouse=True)
def no_automatic_collections() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def test_a_pause_after_closes_collects_their_cycles() -> None:
    garbage = SocketGarbage(quiet_seconds=0.1, min_interval_seconds=0, max_closes=100)
    dead = cycle()
    for _ in range(3):
        garbage.socket_closed()
        await asyncio.sleep(0.02)  # closes keep coming: not yet
    assert dead() is not None
    await asyncio.sleep(0.3)
    assert dead() is None
    assert garbage.collections == 1


async def test_steady_closes_collect_at_most_once_per_interval() -> None:
    garbage = SocketGarbage(quiet_seconds=0.01, min_interval_seconds=0.5, max_closes=1000)
    garbage.socket_closed()
    await asyncio.sleep(0.1)
    assert garbage.collections == 0  # the last collection (start-up) was under 0.5 s ago
    dead = cycle()
    for _ in range(5):
        garbage.socket_closed()
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)
    assert dead() is None
    assert garbage.collections == 1


async def test_many_closes_collect_soon_even_while_closes_go_on() -> None:
    garbage = SocketGarbage(quiet_seconds=0.2, min_interval_seconds=60, max_closes=50)
    dead = cycle()
    for _ in range(60):  # closes never pause for 0.2 s: the 50th close's collection goes ahead anyway
        garbage.socket_closed()
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    assert dead() is None
    assert garbage.collections == 1
