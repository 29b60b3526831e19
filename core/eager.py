"""Run a coroutine at once, in the caller's frame, and only if it really has to wait carry it on later.

A websocket send on an open, writable socket completes without suspending. Sending one event to thousands of
sockets through a task each would cost an event-loop round trip per socket; this runs each send inline and,
for a socket whose transport is paused (a client that is not reading), resumes the send straight from the
callback of the future it waits on, as a task would, so it keeps its place among the socket's other writers.
Python 3.12's eager tasks do the same with a task object per call; this also runs on 3.11."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Coroutine
from typing import Any


def start_eagerly(coroutine: Coroutine[Any, Any, None]) -> asyncio.Future[None] | None:
    """Runs `coroutine` up to its first suspension. None: it finished (an exception it raised is raised here).
    Otherwise a future that ends as the coroutine does, with its exception if it raises. The coroutine cannot
    be cancelled through that future; it ends when what it waits for does (a closed socket ends a send)."""
    try:
        awaited = coroutine.send(None)
    except StopIteration:
        return None
    finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    _resume_after(coroutine, awaited, finished)
    return finished


def _resume_after(coroutine: Coroutine[Any, Any, None], awaited: object, finished: asyncio.Future[None]) -> None:
    """What a task does with what its coroutine yielded: a future to wait for, or a bare yield (run again soon)."""
    loop = asyncio.get_running_loop()
    if awaited is None:
        loop.call_soon(_step, coroutine, finished, None)
    elif getattr(awaited, "_asyncio_future_blocking", False):
        awaited._asyncio_future_blocking = False  # type: ignore[attr-defined]
        awaited.add_done_callback(functools.partial(_on_done, coroutine, finished))  # type: ignore[attr-defined]
    else:
        error = RuntimeError(f"start_eagerly: the coroutine yielded {awaited!r}, not a future")
        loop.call_soon(_step, coroutine, finished, error)


def _on_done(coroutine: Coroutine[Any, Any, None], finished: asyncio.Future[None], _awaited: object) -> None:
    _step(coroutine, finished, None)  # the coroutine reads the future's result (or exception) itself


def _step(coroutine: Coroutine[Any, Any, None], finished: asyncio.Future[None], error: BaseException | None) -> None:
    try:
        awaited = coroutine.send(None) if error is None else coroutine.throw(error)
    except StopIteration:
        if not finished.done():
            finished.set_result(None)
    except asyncio.CancelledError:
        finished.cancel()
    except Exception as exc:
        if not finished.done():
            finished.set_exception(exc)
    else:
        _resume_after(coroutine, awaited, finished)
