"""ResilientPostgresBackend against the real PostgreSQL server: each test proves one broadcaster 0.3.1 defect fixed.

Connection loss is simulated with `pg_terminate_backend` on this test's own application_name, or with a local TCP
proxy in front of the server; the shared server is never restarted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from broadcaster._backends.postgres import PostgresBackend

from bus.backends.postgres import ResilientPostgresBackend, wire_channel
from bus.transport import create_backend
from tests.bus.helpers import TcpProxy, free_port, nothing_arrives, publish_until_received, receive, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(20)]

MakeBackend = Callable[..., Awaitable[ResilientPostgresBackend]]


@pytest.fixture
async def make_backend(application_name: str) -> AsyncIterator[MakeBackend]:
    """Connected backends named after the test; all are disconnected at the end of the test."""
    backends: list[ResilientPostgresBackend] = []

    async def make(url: str, **options: Any) -> ResilientPostgresBackend:
        backend = ResilientPostgresBackend(url, **{"max_backoff": 0.5, "application_name": application_name, **options})
        backends.append(backend)
        await backend.connect()
        return backend

    yield make
    for backend in backends:
        await backend.disconnect()


async def terminate(admin: asyncpg.Connection, application_name: str) -> int:
    killed = await admin.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1", application_name
    )
    return int(killed)


async def test_listen_delivers_str_messages_on_channels_with_colons(
    make_backend: MakeBackend, postgres_url: str, channel: str
) -> None:
    backend = await make_backend(postgres_url)
    await backend.subscribe(channel)
    assert backend.ready
    await backend.publish(channel, '{"seq": 1}')
    event = await receive(backend)
    assert (event.channel, event.message) == (channel, '{"seq": 1}')
    assert isinstance(event.message, str)


async def test_fifty_concurrent_publishes_do_not_raise_and_all_arrive(
    make_backend: MakeBackend, postgres_url: str, channel: str
) -> None:
    backend = await make_backend(postgres_url)
    await backend.subscribe(channel)
    await asyncio.gather(*(backend.publish(channel, str(n)) for n in range(50)))
    received = {(await receive(backend)).message for _ in range(50)}
    assert received == {str(n) for n in range(50)}


async def test_stock_backend_breaks_under_concurrent_publishes(postgres_url: str, channel: str) -> None:
    """The defect the lock fixes; if this starts failing, broadcaster fixed it upstream."""
    stock = PostgresBackend(postgres_url)
    await stock.connect()
    try:
        results = await asyncio.gather(*(stock.publish(channel, str(n)) for n in range(50)), return_exceptions=True)
    finally:
        await stock.disconnect()
    errors = [result for result in results if isinstance(result, BaseException)]
    assert errors
    assert all(isinstance(error, asyncpg.InterfaceError) for error in errors)
    assert "another operation is in progress" in str(errors[0])


async def test_subscribes_during_publishes_do_not_collide(
    make_backend: MakeBackend, postgres_url: str, channel: str
) -> None:
    backend = await make_backend(postgres_url)
    names = [f"{channel}:{i}" for i in range(5)]
    await asyncio.gather(
        *(backend.subscribe(name) for name in names), *(backend.publish(f"{channel}:other", "x") for _ in range(20))
    )
    assert backend.ready
    for name in names:
        await backend.publish(name, name)
    assert {(await receive(backend)).channel for _ in names} == set(names)


async def test_listener_recovers_after_pg_terminate_backend(
    make_backend: MakeBackend, postgres_url: str, postgres_admin: asyncpg.Connection, channel: str
) -> None:
    backend = await make_backend(postgres_url)
    await backend.subscribe(channel)
    await backend.publish(channel, "before")
    assert (await receive(backend)).message == "before"

    assert await terminate(postgres_admin, backend.listener_application_name) == 1

    _event, took = await publish_until_received(
        lambda text: backend.publish(channel, text), backend, channel=channel, timeout=5
    )
    assert took < 5
    assert backend.reconnects == 1
    assert backend.ready


async def test_publish_survives_a_terminated_publishing_connection(
    make_backend: MakeBackend, postgres_url: str, postgres_admin: asyncpg.Connection, channel: str
) -> None:
    backend = await make_backend(postgres_url)
    await backend.subscribe(channel)
    await backend.publish(channel, "before")
    assert (await receive(backend)).message == "before"

    assert await terminate(postgres_admin, backend.publisher_application_name) == 1
    await backend.publish(channel, "after")  # retried once on a new connection
    assert (await receive(backend)).message == "after"


async def test_oversize_payload_raises_value_error(make_backend: MakeBackend, postgres_url: str, channel: str) -> None:
    backend = await make_backend(postgres_url)
    await backend.subscribe(channel)
    with pytest.raises(ValueError, match="8000"):
        await backend.publish(channel, "x" * 8000)
    with pytest.raises(ValueError, match="8000"):
        await backend.publish(channel, "é" * 4000)  # 4000 characters, 8000 bytes
    await backend.publish(channel, "x" * 7999)
    assert (await receive(backend)).message == "x" * 7999


async def test_channel_names_longer_than_an_identifier_still_work(
    make_backend: MakeBackend, postgres_url: str, channel: str
) -> None:
    backend = await make_backend(postgres_url)
    long_name = f"{'a-long-channel-prefix-' * 3}:{channel}"
    assert len(wire_channel(long_name)) <= 63
    await backend.subscribe(long_name)
    await backend.publish(long_name, "long")
    event = await receive(backend)
    assert (event.channel, event.message) == (long_name, "long")


async def test_unsubscribed_channel_stops_delivering(
    make_backend: MakeBackend, postgres_url: str, channel: str
) -> None:
    backend = await make_backend(postgres_url)
    kept, dropped = f"{channel}:kept", f"{channel}:dropped"
    await backend.subscribe(kept)
    await backend.subscribe(dropped)
    await backend.unsubscribe(dropped)
    await backend.publish(dropped, "no")
    await backend.publish(kept, "yes")
    assert (await receive(backend)).channel == kept
    assert await nothing_arrives(backend)


async def test_queue_is_bounded(make_backend: MakeBackend, postgres_url: str, channel: str) -> None:
    backend = await make_backend(postgres_url, queue_size=5)
    await backend.subscribe(channel)
    for n in range(20):
        await backend.publish(channel, str(n))
    await wait_until(lambda: backend.dropped == 15, timeout=3, message="the listener did not drop 15 notifications")
    assert [(await receive(backend)).message for _ in range(5)] == [str(n) for n in range(5)]
    assert await nothing_arrives(backend)


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgresql+asyncpg"])
async def test_accepts_every_postgres_url_spelling(postgres_url: str, scheme: str, channel: str) -> None:
    url = scheme + postgres_url[postgres_url.index("://") :]
    backend = create_backend(url)
    assert isinstance(backend, ResilientPostgresBackend)
    await backend.connect()
    try:
        await backend.subscribe(channel)
        await backend.publish(channel, scheme)
        assert (await receive(backend)).message == scheme
    finally:
        await backend.disconnect()


@pytest.mark.slow
async def test_postgres_down_at_connect_then_up_and_a_dropped_connection(
    make_backend: MakeBackend, postgres_url: str, channel: str
) -> None:
    """Through a TCP proxy: nothing listening at connect(), then the server appears, then every socket drops."""
    proxy = TcpProxy(free_port(), target_port=5432)
    url = postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    try:
        started = time.monotonic()
        backend = await make_backend(url, connect_timeout=1)
        assert time.monotonic() - started < 3
        assert not backend.ready
        await asyncio.wait_for(backend.subscribe(channel), 1)  # recorded, no error
        with pytest.raises(ConnectionError):
            await backend.publish(channel, "nobody is there")

        await proxy.start()
        await wait_until(lambda: backend.ready, timeout=5, message="the backend did not connect once the server was up")
        await backend.publish(channel, "listened on reconnect")
        assert (await receive(backend)).message == "listened on reconnect"

        await proxy.stop()  # the server "restarts": both connections drop
        await wait_until(lambda: not backend.ready, timeout=3, message="ready stayed True with the server gone")
        await proxy.start()
        await wait_until(lambda: backend.ready, timeout=5, message="the backend did not reconnect")
        await backend.publish(channel, "after restart")
        assert (await receive(backend)).message == "after restart"
        assert backend.reconnects >= 1
    finally:
        await proxy.stop()
