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


async def test_a_coroutine_that_waits_is_carried_on_by_a_task_with_its_result_and_errors() -> None:
    gate = asyncio.Event()
    steps: list[str] = []

    async def work() -> None:
        steps.append("before")
        await gate.wait()
        steps.append("after")
        await asyncio.sleep(0)
        raise ValueError("late")

    task = start_eagerly(work())
    assert task is not None
    assert steps == ["before"]
    await asyncio.sleep(0.01)
    assert steps == ["before"]
    gate.set()
    with pytest.raises(ValueError, match="late"):
        await asyncio.wait_for(task, 1)
    assert steps == ["before", "after"]


async def test_cancelling_the_task_cancels_the_coroutine_where_it_waits() -> None:
    seen: list[str] = []

    async def work() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    task = start_eagerly(work())
    assert task is not None
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled"]


async def test_a_future_result_is_handed_to_the_coroutine() -> None:
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    got: list[int] = []

    async def work() -> None:
        got.append(await future)

    task = start_eagerly(work())
    assert task is not None
    future.set_result(7)
    await asyncio.wait_for(task, 1)
    assert got == [7]
