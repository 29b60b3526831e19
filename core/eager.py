"""Run a coroutine at once, in the caller's frame, and only hand it to a task if it really has to wait.

A websocket send on an open, writable socket completes without suspending. Sending one event to thousands of
sockets through a task each would cost an event-loop round trip per socket; this runs each send inline and pays
for a task only for a socket whose transport is paused (a client that is not reading). Python 3.12's eager
tasks do the same, with a task object per call; this also runs on 3.11."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Coroutine
from typing import Any


def start_eagerly(coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
    """Runs `coroutine` up to its first suspension. None: it finished (an exception it raised is raised here).
    Otherwise the task that carries it on once what it waits for is done."""
    try:
        awaited = coroutine.send(None)
    except StopIteration:
        return None
    return asyncio.ensure_future(_carry_on(coroutine, awaited))


async def _carry_on(coroutine: Coroutine[Any, Any, None], awaited: object) -> None:
    """Does for `coroutine` what a task does: waits for the future it yielded, then resumes it, until it ends.
    Cancelling this cancels that future, and the coroutine sees the `CancelledError` where it awaits."""
    loop = asyncio.get_running_loop()
    try:
        while True:
            cancel_inside = False
            if isinstance(awaited, asyncio.Future):
                awaited._asyncio_future_blocking = False  # what a task does when a coroutine yields a future
                ready: asyncio.Future[None] = loop.create_future()
                awaited.add_done_callback(functools.partial(_wake, ready))
                try:
                    await ready
                except asyncio.CancelledError:
                    cancel_inside = not awaited.cancel()  # done already: raise it in the coroutine instead
            elif awaited is None:  # a bare yield (`asyncio.sleep(0)`): let the loop run once
                await asyncio.sleep(0)
            else:
                raise RuntimeError(f"start_eagerly: the coroutine yielded {awaited!r}")
            try:
                awaited = coroutine.throw(asyncio.CancelledError()) if cancel_inside else coroutine.send(None)
            except StopIteration:
                return
    finally:
        coroutine.close()


def _wake(ready: asyncio.Future[None], _done: object) -> None:
    if not ready.done():
        ready.set_result(None)
