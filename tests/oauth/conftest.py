"""OAuth fixtures: a real server on a seeded database (SQLite and PostgreSQL), clients made with the CLI."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.hardening.conftest import EVERYONE, seed
from tests.support.cli import create_client
from tests.support.graphql_http import graphql
from tests.support.live_server import LiveServer

LOGOUT = "mutation($id: ID!) { logoutSession(id: $id) { session { id status } } }"


@dataclass
class OAuthService:
    server: LiveServer
    database_url: str
    user_ids: dict[str, str]

    @property
    def introspection_url(self) -> str:
        return f"{self.server.base_url}/oauth2/introspect"

    def client(self, name: str, *options: str) -> tuple[str, str]:
        return create_client(self.database_url, name, *options)

    async def introspect(self, token: str | None, client: tuple[str, str], **form: str) -> httpx.Response:
        data = {**({"token": token} if token is not None else {}), **form}
        async with httpx.AsyncClient(timeout=15) as http:
            return await http.post(self.introspection_url, data=data, auth=client)

    async def logout(self, token: str, session_id: str) -> None:
        body = await graphql(self.server.base_url, LOGOUT, {"id": session_id}, token=token)
        assert body["data"]["logoutSession"]["session"]["status"] == "ENDED", body


@pytest.fixture
async def seeded(database_url: str) -> dict[str, str]:
    return await seed(database_url, EVERYONE)


@pytest.fixture
def oauth_service(
    database_url: str, seeded: dict[str, str], start_server: Callable[..., LiveServer]
) -> Callable[..., OAuthService]:
    def start(**env: Any) -> OAuthService:
        server = start_server(
            {
                "DATABASE_URL": database_url,
                "BROADCAST_URL": "memory://",
                "TOUCH_INTERVAL_SECONDS": "0",
                **{key.upper(): str(value) for key, value in env.items()},
            }
        )
        return OAuthService(server, database_url, seeded)

    return start
