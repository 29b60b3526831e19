"""`start_eagerly`: inline when nothing waits, a task that finishes the work when something does."""

from __future__ import annotations

import asyncio

import pytest

from core.eager import start_eagerly


async def test_a_coroutine_that_never_waits_runs_inline() -> None:
    steps: list[str] = []

    async def work() -> None:
        steps.append("ran")

    assert start_eagerly(work()) is None
    assert steps == ["ran"]  # before any await of the caller


async def test_an_exception_of_an_inline_run_reaches_the_caller() -> None:
    async def broken() -> None:
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        start_eagerly(broken())


async def test_a_coroutine_that_waits_is_carried_on_with_its_result_and_errors() -> None:
    gate = asyncio.Event()
    steps: list[str] = []

    async def work() -> None:
        steps.append("before")
        await gate.wait()
        steps.append("after")
        await asyncio.sleep(0)  # a bare yield
        raise ValueError("late")

    finished = start_eagerly(work())
    assert finished is not None
    assert steps == ["before"]
    await asyncio.sleep(0.01)
    assert steps == ["before"]
    gate.set()
    with pytest.raises(ValueError, match="late"):
        await asyncio.wait_for(finished, 1)
    assert steps == ["before", "after"]


async def test_a_future_result_is_handed_to_the_coroutine() -> None:
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    got: list[int] = []

    async def work() -> None:
        got.append(await future)

    finished = start_eagerly(work())
    assert finished is not None
    future.set_result(7)
    await asyncio.wait_for(finished, 1)
    assert got == [7]


async def test_a_waiting_coroutine_keeps_its_place_among_later_waiters() -> None:
    """Resumed from the awaited future's own callback, as a task is: before anyone who started waiting later."""
    gate = asyncio.Event()
    order: list[str] = []

    async def waiter(name: str) -> None:
        await gate.wait()
        order.append(name)

    first = start_eagerly(waiter("eager, first"))
    later = asyncio.ensure_future(waiter("task, later"))
    await asyncio.sleep(0)
    gate.set()
    assert first is not None
    await asyncio.wait_for(asyncio.gather(first, later), 1)
    assert order == ["eager, first", "task, later"]


async def test_a_cancelled_wait_ends_the_future_cancelled() -> None:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def work() -> None:
        await future

    finished = start_eagerly(work())
    assert finished is not None
    future.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(finished, 1)
