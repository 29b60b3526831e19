"""`create_backend` picks the resilient backends from BROADCAST_URL; `Transport` carries str both ways on Redis."""

from __future__ import annotations

import pytest
from broadcaster._backends.memory import MemoryBackend

from bus.backends import ResilientPostgresBackend, ResilientRedisBackend
from bus.transport import Transport, create_backend


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("memory://", MemoryBackend),
        ("redis://127.0.0.1:6379/0", ResilientRedisBackend),
        ("rediss://cache.internal:6380/0", ResilientRedisBackend),
        ("postgres://postgres@127.0.0.1:5432/postgres", ResilientPostgresBackend),
        ("postgresql://postgres@127.0.0.1:5432/postgres", ResilientPostgresBackend),
        ("postgresql+asyncpg://postgres@127.0.0.1:5432/postgres", ResilientPostgresBackend),
    ],
)
async def test_create_backend_maps_schemes(url: str, expected: type) -> None:
    backend = create_backend(url)
    assert type(backend) is expected
    if isinstance(backend, ResilientRedisBackend):
        await backend.disconnect()  # closes the (unused) publishing client


def test_create_backend_refuses_unknown_schemes() -> None:
    with pytest.raises(ValueError, match="kafka"):
        create_backend("kafka://broker:9092")


@pytest.mark.redis
async def test_transport_over_redis_is_ready_and_round_trips_str(redis_url: str, channel: str) -> None:
    transport = Transport(redis_url)
    await transport.connect()
    try:
        assert transport.ready
        await transport.subscribe(channel)
        await transport.publish(channel, '{"seq": 7}')
        assert await transport.next_message() == (channel, '{"seq": 7}')
    finally:
        await transport.disconnect()
