"""Per-account routing: an instance subscribes to an account's channel only while it has sockets of that account."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest
from redis.asyncio import Redis

from tests.scaleout.conftest import REDIS_URL
from tests.support.cli import PASSWORD, create_user
from tests.support.graphql_http import login
from tests.support.graphql_ws import GraphQLWebSocket
from tests.support.live_server import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]


async def channels(prefix: str) -> set[str]:
    client = Redis.from_url(REDIS_URL)
    try:
        names = await client.pubsub_channels(f"{prefix}:*")
        return {name.decode() if isinstance(name, bytes) else name for name in names}
    finally:
        await client.aclose()


async def eventually(prefix: str, expected: set[str], timeout: float = 5) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (current := await channels(prefix)) != expected:
        assert loop.time() < deadline, f"channels {current}, expected {expected}"
        await asyncio.sleep(0.1)


async def account_channel(server: LiveServer, token: str, prefix: str) -> str:
    """The account's channel, learnt from the session it belongs to (one account per email domain here)."""
    before = await channels(prefix)
    socket = await GraphQLWebSocket.open(server.ws_url, token)
    await socket.acknowledged()
    await asyncio.sleep(0.3)
    (added,) = await channels(prefix) - before
    await socket.close()
    return added


async def test_channels_follow_the_sockets_of_each_account(
    shared_database: str, start_server: Callable[..., LiveServer]
) -> None:
    create_user(shared_database, "eve@other.test", account="other")
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    server = start_server({"DATABASE_URL": shared_database, "BROADCAST_URL": REDIS_URL, "CHANNEL_PREFIX": prefix})
    ana, _ = await login(server.base_url, "ana@acme.test", PASSWORD)
    bo, _ = await login(server.base_url, "bo@acme.test", PASSWORD)
    eve, _ = await login(server.base_url, "eve@other.test", PASSWORD)
    await eventually(prefix, set())  # logins alone subscribe to nothing

    acme = await account_channel(server, ana, prefix)
    other = await account_channel(server, eve, prefix)
    assert acme != other and acme.startswith(f"{prefix}:account:")
    await eventually(prefix, set())  # those sockets closed: nothing left

    ana_panel = await GraphQLWebSocket.open(server.ws_url, ana)
    await ana_panel.acknowledged()
    await ana_panel.subscribe()
    bo_panel = await GraphQLWebSocket.open(server.ws_url, bo)
    await bo_panel.acknowledged()
    await bo_panel.subscribe()
    await eventually(prefix, {acme})  # two sockets and two subscriptions of one account: one channel

    await ana_panel.close()
    await asyncio.sleep(0.5)
    assert await channels(prefix) == {acme}  # bo still listens
    await bo_panel.close()
    await eventually(prefix, set())  # the last one left: the instance unsubscribes
