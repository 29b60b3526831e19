"""Shared fixtures: real databases (SQLite and PostgreSQL), an in-process runtime, real server processes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.database import Database
from core.settings import Settings
from server import Runtime, open_runtime
from services.accounts import create_user
from services.records import UserRecord
from tests.support.databases import fresh_postgres_database, sqlite_url
from tests.support.live_server import LiveServer

PASSWORD = "correct horse battery"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Every test that takes this runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
    else:
        async with fresh_postgres_database() as url:
            yield url


@pytest.fixture
def make_settings(database_url: str) -> Callable[..., Settings]:
    prefix = f"test-{uuid.uuid4().hex[:8]}"

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "broadcast_url": "memory://",
            "channel_prefix": prefix,
            "touch_interval_seconds": 0,
            **overrides,
        }
        return Settings(_env_file=None, **values)

    return make


@pytest.fixture
async def runtime(make_settings: Callable[..., Settings]) -> AsyncIterator[Runtime]:
    async with open_runtime(make_settings(), run_sweeper=False) as opened:
        yield opened


class People:
    """Creates users through the service layer."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def user(self, email: str, *, admin: bool = False, account: str = "acme") -> UserRecord:
        return await create_user(self._database, email=email, password=PASSWORD, is_admin=admin, account_name=account)


@pytest.fixture
def people(runtime: Runtime) -> People:
    return People(runtime.database)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start real `server.py serve` processes; all are stopped at the end of the test."""
    servers: list[LiveServer] = []

    def start(env: dict[str, str], *, wait_ready: bool = True) -> LiveServer:
        server = LiveServer(env, log_path=tmp_path / f"server-{len(servers)}.log")
        servers.append(server)
        return server.start(wait_ready=wait_ready)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def people_factory() -> Callable[[Runtime], People]:
    return lambda runtime: People(runtime.database)
