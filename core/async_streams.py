"""Async stream plumbing shared by the transports."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TypeVar

T = TypeVar("T")


class StreamStopped(Exception):
    """The stop event was set before the stream ended by itself."""


async def until_set(stream: AsyncIterator[T], stop: asyncio.Event) -> AsyncGenerator[T, None]:
    """Items of `stream` until it ends, or `StreamStopped` as soon as `stop` is set (the stream is then cancelled)."""
    stopping = asyncio.ensure_future(stop.wait())
    try:
        while True:
            following = asyncio.ensure_future(anext(stream))
            done, _ = await asyncio.wait({following, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if following not in done:
                following.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await following
                raise StreamStopped
            try:
                item = following.result()
            except StopAsyncIteration:
                return
            yield item
    finally:
        stopping.cancel()
