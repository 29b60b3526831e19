"""Two real instances (uvicorn processes) sharing a fresh PostgreSQL database and a real bus."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from tests.support.cli import create_user
from tests.support.databases import fresh_postgres_database
from tests.support.live_server import LiveServer

REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass
class Fleet:
    a: LiveServer
    b: LiveServer
    database_url: str
    env: dict[str, str]


def bus_url(kind: str, database_url: str) -> str:
    if kind == "redis":
        return REDIS_URL
    return database_url.replace("postgresql+asyncpg://", "postgres://")


@pytest.fixture
async def shared_database() -> AsyncIterator[str]:
    async with fresh_postgres_database() as url:
        create_user(url, "ana@acme.test")
        create_user(url, "admin@acme.test", admin=True)
        create_user(url, "bo@acme.test")
        yield url


@pytest.fixture(params=["redis", "postgres"])
def fleet(request: pytest.FixtureRequest, shared_database: str, start_server: Callable[..., LiveServer]) -> Fleet:
    """Instances A and B; every test using this runs once over Redis and once over PostgreSQL NOTIFY."""
    env = {
        "DATABASE_URL": shared_database,
        "BROADCAST_URL": bus_url(request.param, shared_database),
        "CHANNEL_PREFIX": f"test-{uuid.uuid4().hex[:8]}",
        "SWEEP_INTERVAL_SECONDS": "0.3",
        "RECONCILE_INTERVAL_SECONDS": "0.5",
    }
    return Fleet(a=start_server(env), b=start_server(env), database_url=shared_database, env=env)
