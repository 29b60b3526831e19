"""ResilientRedisBackend against real redis-server processes: each test proves one broadcaster 0.3.1 defect fixed.

Tests that kill connections or restart Redis run their own `redis-server` on a free port, never the shared one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from broadcaster._backends.redis import RedisBackend
from redis.asyncio import Redis

from bus.backends.redis import ResilientRedisBackend
from tests.bus.helpers import RedisServer, nothing_arrives, publish_until_received, receive, wait_until

pytestmark = [pytest.mark.redis, pytest.mark.timeout(20)]

MakeBackend = Callable[..., Awaitable[ResilientRedisBackend]]


@pytest.fixture
async def make_backend() -> AsyncIterator[MakeBackend]:
    """Connected backends with test-friendly timings; all are disconnected at the end of the test."""
    backends: list[ResilientRedisBackend] = []

    async def make(url: str, **options: Any) -> ResilientRedisBackend:
        backend = ResilientRedisBackend(url, **{"max_backoff": 0.5, **options})
        backends.append(backend)
        await backend.connect()
        return backend

    yield make
    for backend in backends:
        await backend.disconnect()


async def test_first_channel_of_a_fresh_backend_delivers(
    make_backend: MakeBackend, redis_url: str, redis_client: Redis, channel: str
) -> None:
    for attempt in range(5):
        backend = await make_backend(redis_url)
        name = f"{channel}:{attempt}"
        await backend.subscribe(name)
        assert backend.ready
        # No sleep: subscribe() returned only after Redis confirmed the subscription.
        assert await redis_client.publish(name, '{"n": 1}') == 1
        event = await receive(backend)
        assert (event.channel, event.message) == (name, '{"n": 1}')
        assert isinstance(event.message, str)


async def test_stock_backend_loses_the_first_channel_with_redis_py_8(
    redis_url: str, redis_client: Redis, channel: str
) -> None:
    """The defect the backend exists for; if this starts failing, broadcaster or redis-py fixed it upstream."""
    stock = RedisBackend(redis_url)
    await stock.connect()
    try:
        await stock.subscribe(channel)
        await asyncio.sleep(0.05)
        await redis_client.publish(channel, "lost")
        assert await nothing_arrives(stock, within=1.0)
    finally:
        await stock.disconnect()
        if stock._listener is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await stock._listener


async def test_concurrent_subscribes_on_five_channels_all_deliver(
    make_backend: MakeBackend, redis_url: str, redis_client: Redis, channel: str
) -> None:
    backend = await make_backend(redis_url)
    names = [f"{channel}:{i}" for i in range(5)]
    await asyncio.gather(*(backend.subscribe(name) for name in names))
    assert backend.ready
    for name in names:
        assert await redis_client.publish(name, name) == 1
    received = {(event.channel, event.message) for event in [await receive(backend) for _ in names]}
    assert received == {(name, name) for name in names}


async def test_concurrent_subscribes_to_one_channel_deliver_each_message_once(
    make_backend: MakeBackend, redis_url: str, redis_client: Redis, channel: str
) -> None:
    backend = await make_backend(redis_url)
    await asyncio.gather(*(backend.subscribe(channel) for _ in range(5)))
    assert await redis_client.publish(channel, "once") == 1
    assert (await receive(backend)).message == "once"
    assert await nothing_arrives(backend)


async def test_unsubscribed_channel_stops_delivering(
    make_backend: MakeBackend, redis_url: str, redis_client: Redis, channel: str
) -> None:
    backend = await make_backend(redis_url)
    kept, dropped = f"{channel}:kept", f"{channel}:dropped"
    await backend.subscribe(kept)
    await backend.subscribe(dropped)
    await backend.unsubscribe(dropped)
    await backend.publish(dropped, "no")
    await backend.publish(kept, "yes")
    event = await receive(backend)
    assert (event.channel, event.message) == (kept, "yes")
    assert await nothing_arrives(backend)


async def test_publish_refuses_anything_but_str(make_backend: MakeBackend, redis_url: str, channel: str) -> None:
    backend = await make_backend(redis_url)
    with pytest.raises(TypeError, match="str"):
        await backend.publish(channel, {"not": "json text"})


async def test_queue_is_bounded_and_overflow_drops_with_a_warning(
    make_backend: MakeBackend, redis_url: str, redis_client: Redis, channel: str, caplog: pytest.LogCaptureFixture
) -> None:
    backend = await make_backend(redis_url, queue_size=10)
    await backend.subscribe(channel)
    with caplog.at_level(logging.WARNING, logger="bus.backends"):
        for n in range(50):
            await redis_client.publish(channel, str(n))
        await wait_until(lambda: backend.dropped == 40, timeout=3, message="the reader did not drop 40 messages")
    assert [(await receive(backend)).message for _ in range(10)] == [str(n) for n in range(10)]
    assert await nothing_arrives(backend)
    assert any("queue is full" in record.getMessage() for record in caplog.records)
    # Once the consumer catches up, messages flow again.
    await redis_client.publish(channel, "after")
    assert (await receive(backend)).message == "after"


@pytest.mark.slow
async def test_recovers_after_client_kill_type_pubsub(
    make_backend: MakeBackend, redis_server: RedisServer, channel: str
) -> None:
    backend = await make_backend(redis_server.url)
    admin = redis_server.client()
    try:
        await backend.subscribe(channel)
        await backend.publish(channel, "before")
        assert (await receive(backend)).message == "before"

        assert await admin.client_kill_filter(_type="pubsub") == 1  # CLIENT KILL TYPE pubsub

        _event, took = await publish_until_received(
            lambda text: backend.publish(channel, text), backend, channel=channel, timeout=5
        )
        assert took < 5
        assert backend.reconnects == 1
        assert backend.ready
        assert await admin.pubsub_numsub(channel) == [(channel.encode(), 1)]
    finally:
        await admin.aclose()


@pytest.mark.slow
async def test_recovers_after_a_redis_restart_on_the_same_port(
    make_backend: MakeBackend, redis_server: RedisServer, channel: str
) -> None:
    backend = await make_backend(redis_server.url)
    await backend.subscribe(channel)
    await backend.publish(channel, "before")
    assert (await receive(backend)).message == "before"

    redis_server.stop()
    await wait_until(lambda: not backend.ready, timeout=3, message="ready stayed True with Redis stopped")
    redis_server.start()
    await wait_until(lambda: backend.ready, timeout=5, message="the backend did not resubscribe after the restart")

    # The publisher's pooled connection died with the old server: the first PUBLISH must still succeed.
    await backend.publish(channel, "after")
    event = await receive(backend)
    assert (event.channel, event.message) == (channel, "after")
    assert backend.reconnects >= 1


@pytest.mark.slow
async def test_redis_down_at_connect_then_up(
    make_backend: MakeBackend, redis_server_factory: Callable[[], RedisServer], channel: str
) -> None:
    server = redis_server_factory()  # a free port with nothing listening yet
    started = time.monotonic()
    backend = await make_backend(server.url)
    assert time.monotonic() - started < 3
    assert not backend.ready

    early, late = f"{channel}:early", f"{channel}:late"
    await asyncio.wait_for(backend.subscribe(early), 1)  # recorded, no error
    assert not backend.ready
    with pytest.raises(ConnectionError):
        await backend.publish(early, "nobody is there")

    server.start()
    await wait_until(lambda: backend.ready, timeout=5, message="the backend did not connect once Redis started")

    await backend.publish(early, "subscribed on reconnect")
    assert (await receive(backend)).message == "subscribed on reconnect"
    await backend.subscribe(late)
    await backend.publish(late, "subscribed now")
    event = await receive(backend)
    assert (event.channel, event.message) == (late, "subscribed now")


@pytest.mark.slow
async def test_a_silent_connection_is_noticed_by_the_health_check(
    make_backend: MakeBackend, redis_server: RedisServer, channel: str
) -> None:
    """A peer that stops answering (network partition) is detected by PING and the backend reconnects."""
    backend = await make_backend(redis_server.url, health_check_interval=0.3)
    admin = redis_server.client()
    try:
        await backend.subscribe(channel)
        # Freeze every client of the server for 1.5 s: the PING gets no reply within the interval.
        await admin.client_pause(1500, all=True)
        await wait_until(lambda: backend.reconnects >= 1, timeout=5, message="no reconnect after an unanswered PING")
        await wait_until(lambda: backend.ready, timeout=5, message="not ready after the pause")
        await backend.publish(channel, "after pause")
        assert (await receive(backend)).message == "after pause"
    finally:
        await admin.aclose()
