"""Hardening fixtures: real server processes on a seeded SQLite file, and an in-process schema."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from websockets.typing import Subprotocol

from core.database import Database, create_engine, migrate_to_latest
from core.settings import Settings
from schema.build import build_schema
from schema.context import Context
from server import Runtime, open_runtime
from services.accounts import create_user
from tests.conftest import PASSWORD
from tests.support.graphql_http import LOGIN, graphql
from tests.support.live_server import LiveServer

GRAPHQL_TRANSPORT_WS = Subprotocol("graphql-transport-ws")

# (email, administrator, account)
MEMBER_A = ("ana@acme.test", False, "acme")
MEMBER_B = ("bo@acme.test", False, "acme")
ADMIN = ("admin@acme.test", True, "acme")
OTHER_ADMIN = ("eve@other.test", True, "other")
EVERYONE = (MEMBER_A, MEMBER_B, ADMIN, OTHER_ADMIN)


async def seed(database_url: str, users: tuple[tuple[str, bool, str], ...]) -> dict[str, str]:
    """Create the users straight through the service layer (faster than the CLI); returns email -> id."""
    await migrate_to_latest(database_url)
    database = Database(create_engine(database_url))
    try:
        ids = {}
        for email, admin, account in users:
            user = await create_user(database, email=email, password=PASSWORD, is_admin=admin, account_name=account)
            ids[email] = user.id
        return ids
    finally:
        await database.dispose()


@dataclass
class Deployment:
    """A seeded database and the server processes started on it."""

    directory: Path
    user_ids: dict[str, str] = field(default_factory=dict)
    servers: list[LiveServer] = field(default_factory=list)

    @property
    def database_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.directory / 'sessions.db'}"

    def start(self, **env: str) -> LiveServer:
        settings = {"DATABASE_URL": self.database_url, "BROADCAST_URL": "memory://", **env}
        server = LiveServer(settings, log_path=self.directory / f"server-{len(self.servers)}.log")
        self.servers.append(server)
        return server.start()

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


def deploy(directory: Path, users: tuple[tuple[str, bool, str], ...] = EVERYONE) -> Deployment:
    deployment = Deployment(directory)
    deployment.user_ids = asyncio.run(seed(deployment.database_url, users))
    return deployment


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    """A fresh seeded database for one test; start servers on it with `deployment.start(**env)`."""
    deployed = deploy(tmp_path)
    yield deployed
    deployed.stop()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for a whole module whose tests do not disturb each other."""
    deployed = deploy(tmp_path_factory.mktemp("hardening"))
    yield deployed.start()
    deployed.stop()


async def log_in(base_url: str, email: str, password: str = PASSWORD, **headers: str) -> dict[str, Any]:
    """The raw answer to a login (no assertion: refusals are what many tests look at)."""
    return await graphql(base_url, LOGIN, {"email": email, "password": password}, headers=headers or None)


async def token_of(base_url: str, email: str) -> tuple[str, str]:
    body = await log_in(base_url, email)
    assert "errors" not in body, body
    return body["data"]["login"]["token"], body["data"]["login"]["session"]["id"]


@pytest.fixture
def make_hardening_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'sessions.db'}",
            "broadcast_url": "memory://",
            "touch_interval_seconds": 0,
            **overrides,
        }
        return Settings(_env_file=None, **values)

    return make


@pytest.fixture
async def local_runtime(make_hardening_settings: Callable[..., Settings]) -> AsyncIterator[Runtime]:
    """An in-process runtime on SQLite, for tests that drive the schema with `schema.execute`."""
    async with open_runtime(make_hardening_settings(), run_sweeper=False) as opened:
        yield opened


def context_for(runtime: Runtime, token: str | None = None, *, client_ip: str = "203.0.113.9") -> Context:
    return Context(
        services=runtime.services,
        client_ip=client_ip,
        user_agent=None,
        authorization=f"Bearer {token}" if token else None,
        is_websocket=False,
    )


def schema_for(**overrides: Any) -> Any:
    return build_schema(Settings(_env_file=None, **overrides))
