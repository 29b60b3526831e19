"""Fixtures for the bus backend tests: the shared Redis and PostgreSQL servers, private redis-server processes.

An unreachable server fails the test (never skips it)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from redis.asyncio import Redis

from tests.bus.helpers import RedisServer, free_port

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def channel() -> str:
    """A channel name no other test (or running service) uses; contains ':' like the hub's channels."""
    return f"bus-test:account:{uuid.uuid4()}"


@pytest.fixture
async def redis_url() -> str:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except Exception as exc:
        raise RuntimeError(f"Redis is required at {REDIS_URL} and is not reachable: {exc}") from exc
    finally:
        await client.aclose()
    return REDIS_URL


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def redis_server_factory(tmp_path: Path) -> Iterator[Callable[[], RedisServer]]:
    """Private `redis-server` processes on free ports (not started yet); all are stopped at the end."""
    servers: list[RedisServer] = []

    def make() -> RedisServer:
        directory = tmp_path / f"redis-{len(servers)}"
        directory.mkdir()
        server = RedisServer(free_port(), directory)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def redis_server(redis_server_factory: Callable[[], RedisServer]) -> RedisServer:
    """A running private redis-server that the test may kill connections on, stop and restart."""
    return redis_server_factory().start()


@pytest.fixture
async def postgres_url() -> str:
    try:
        connection = await asyncpg.connect(POSTGRES_URL, timeout=5)
    except Exception as exc:
        raise RuntimeError(f"PostgreSQL is required at {POSTGRES_URL} and is not reachable: {exc}") from exc
    await connection.close()
    return POSTGRES_URL


@pytest.fixture
async def postgres_admin(postgres_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(postgres_url)
    yield connection
    await connection.close()


@pytest.fixture
def application_name() -> str:
    """Unique per test, so a test terminates only its own backend's connections."""
    return f"bus-test-{uuid.uuid4().hex[:12]}"
