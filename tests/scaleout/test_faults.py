"""Faults injected into real Redis, PostgreSQL and server processes; every scenario counts what it lost.

Each test says what it injects and asserts expected == received, with zero missing and zero duplicated."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from tests.bus.helpers import RedisServer, free_port
from tests.support.cli import PASSWORD, create_user
from tests.support.databases import fresh_postgres_database
from tests.support.graphql_http import error_code, graphql, login
from tests.support.graphql_ws import GraphQLWebSocket, open_subscriber
from tests.support.live_server import LiveServer
from tests.support.private_postgres import PrivatePostgres

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

LIST = "{ activeSessions { totalCount nodes { id } } }"
LOGIN_MUTATION = (
    "mutation L($email: String!, $password: String!) { login(input: {email: $email, password: $password}) { token } }"
)
LOGOUT_SESSION = "mutation End($id: ID!) { logoutSession(id: $id) { session { id endReason } } }"


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(free_port(), directory)
    yield server
    server.stop()


@pytest.fixture
async def database() -> AsyncIterator[str]:
    async with fresh_postgres_database() as url:
        create_user(url, "admin@acme.test", admin=True)
        create_user(url, "ana@acme.test")
        yield url


def instance_env(database_url: str, redis_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "BROADCAST_URL": redis_url,
        "CHANNEL_PREFIX": f"test-{uuid.uuid4().hex[:8]}",
        "RECONCILE_INTERVAL_SECONDS": "0.5",
    }


async def committed_event_ids(database_url: str) -> list[int]:
    connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return [row["id"] for row in await connection.fetch("SELECT id FROM session_event ORDER BY id")]
    finally:
        await connection.close()


def tally(expected: list[int], received: list[int]) -> str:
    missing = sorted(set(expected) - set(received))
    duplicated = len(received) - len(set(received))
    return f"expected {len(expected)}, received {len(received)}, missing {missing}, duplicated {duplicated}"


async def collect(panel: GraphQLWebSocket, until_count: int, timeout: float = 10) -> list[int]:
    received: list[int] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(received) < until_count and loop.time() < deadline:
        try:
            received.append(int((await panel.next_event(timeout=max(0.1, deadline - loop.time())))["id"]))
        except TimeoutError:
            break
    return received


async def ready(server: LiveServer) -> bool:
    async with httpx.AsyncClient() as client:
        return (await client.get(server.base_url + "/readyz")).status_code == 200


async def wait_ready(server: LiveServer, expected: bool, timeout: float = 15) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await ready(server) is not expected:
        assert loop.time() < deadline, f"/readyz never became {'ready' if expected else 'not ready'}"
        await asyncio.sleep(0.2)


async def writer_and_watcher(
    database: str, private_redis: RedisServer, start_server: Callable[..., LiveServer]
) -> tuple[LiveServer, LiveServer, GraphQLWebSocket, list[int]]:
    """Instances A (where changes are made) and B (an administrator's panel), and the events before the fault."""
    private_redis.start()
    env = instance_env(database, private_redis.url)
    a, b = start_server(env), start_server(env)
    admin, _ = await login(b.base_url, "admin@acme.test", PASSWORD)
    panel = await open_subscriber(b.ws_url, admin, allUsers=True)
    return a, b, panel, await committed_event_ids(database)


async def assert_nothing_lost(database: str, baseline: list[int], panel: GraphQLWebSocket) -> None:
    """The panel received every event committed since `baseline`, in order, once."""
    expected = [i for i in await committed_event_ids(database) if i not in baseline]
    received = await collect(panel, len(expected))
    assert received == expected, tally(expected, received)
    await panel.close()


async def test_pubsub_connection_killed_mid_stream_loses_nothing(
    database: str, private_redis: RedisServer, start_server: Callable[..., LiveServer]
) -> None:
    """Injected: CLIENT KILL TYPE pubsub on Redis while events flow from A to a subscriber on B."""
    a, _b, panel, baseline = await writer_and_watcher(database, private_redis, start_server)

    for round_number in range(3):
        for _ in range(5):
            await login(a.base_url, "ana@acme.test", PASSWORD)
        if round_number == 0:
            killer = Redis.from_url(private_redis.url)
            assert await killer.client_kill_filter(_type="pubsub") >= 1
            await killer.aclose()
    await assert_nothing_lost(database, baseline, panel)


async def test_redis_restarted_mid_stream_loses_nothing(
    database: str, private_redis: RedisServer, start_server: Callable[..., LiveServer]
) -> None:
    """Injected: Redis stopped while A keeps committing, then started again on the same port."""
    a, b, panel, baseline = await writer_and_watcher(database, private_redis, start_server)

    for _ in range(3):
        await login(a.base_url, "ana@acme.test", PASSWORD)
    ending = [await login(a.base_url, "ana@acme.test", PASSWORD) for _ in range(4)]
    private_redis.stop()
    await wait_ready(b, expected=False)
    # Logins need the shared limit store (Redis here) and are refused while it is down; logouts are not.
    refused = await graphql(a.base_url, LOGIN_MUTATION, {"email": "ana@acme.test", "password": PASSWORD})
    assert error_code(refused) == "SERVICE_UNAVAILABLE", refused
    for token, session in ending:  # committed while the bus is down
        ended = await graphql(a.base_url, LOGOUT_SESSION, {"id": session["id"]}, token=token)
        assert ended["data"]["logoutSession"]["session"]["endReason"] == "LOGGED_OUT", ended
    private_redis.start()
    await wait_ready(b, expected=True)
    for _ in range(3):
        await login(a.base_url, "ana@acme.test", PASSWORD)

    await assert_nothing_lost(database, baseline, panel)


async def test_redis_down_at_start_then_back(
    database: str, private_redis: RedisServer, start_server: Callable[..., LiveServer]
) -> None:
    """Injected: the instance starts while Redis is down; Redis comes up later."""
    env = instance_env(database, private_redis.url)
    b = start_server(env, wait_ready=False)
    assert not await ready(b)
    # Logins are refused while the shared limit store (Redis) is down: they fail safe rather than stop counting.
    refused = await graphql(b.base_url, LOGIN_MUTATION, {"email": "ana@acme.test", "password": PASSWORD})
    assert error_code(refused) == "SERVICE_UNAVAILABLE", refused
    # Sessions made elsewhere (an instance on the in-process bus and store) are served by B all the same.
    elsewhere = start_server({**env, "BROADCAST_URL": "memory://"})
    ana, _ = await login(elsewhere.base_url, "ana@acme.test", PASSWORD)
    _, other = await login(elsewhere.base_url, "ana@acme.test", PASSWORD)
    assert (await graphql(b.base_url, LIST, token=ana))["data"]["activeSessions"]["totalCount"] == 2
    ended = await graphql(b.base_url, LOGOUT_SESSION, {"id": other["id"]}, token=ana)
    assert ended["data"]["logoutSession"]["session"]["endReason"] == "REVOKED"

    panel = await GraphQLWebSocket.open(b.ws_url, ana)
    await panel.acknowledged()
    await panel.subscribe()
    private_redis.start()
    await wait_ready(b, expected=True)
    a = start_server(env)
    await asyncio.sleep(0.5)
    _, from_a = await login(a.base_url, "ana@acme.test", PASSWORD)
    event = await panel.next_event(timeout=5)
    assert (event["type"], event["session"]["id"]) == ("CREATED", from_a["id"])
    await panel.close()


async def test_postgres_restarted_requests_fail_clearly_then_recover(
    tmp_path: Path, start_server: Callable[..., LiveServer]
) -> None:
    """Injected: the PostgreSQL server is stopped (immediate) and started again under a running instance."""
    postgres = PrivatePostgres().init()
    try:
        create_user(postgres.url, "ana@acme.test")
        server = start_server({"DATABASE_URL": postgres.url, "BROADCAST_URL": "memory://"})
        token, _ = await login(server.base_url, "ana@acme.test", PASSWORD)
        assert (await graphql(server.base_url, LIST, token=token))["data"]["activeSessions"]["totalCount"] == 1

        postgres.stop()
        during = await graphql(server.base_url, LIST, token=token)
        assert error_code(during) == "SERVICE_UNAVAILABLE", during
        assert not await ready(server)

        postgres.start()
        recovered = await graphql(server.base_url, LIST, token=token)
        assert recovered["data"]["activeSessions"]["totalCount"] == 1, recovered
        await wait_ready(server, expected=True)
    finally:
        postgres.destroy()


async def test_shutdown_closes_sockets_with_a_reconnect_code(
    database: str, start_server: Callable[..., LiveServer]
) -> None:
    """Injected: SIGTERM to an instance with an open subscription."""
    server = start_server({"DATABASE_URL": database, "BROADCAST_URL": "memory://"})
    ana, _ = await login(server.base_url, "ana@acme.test", PASSWORD)
    panel = await GraphQLWebSocket.open(server.ws_url, ana)
    await panel.acknowledged()
    await panel.subscribe()
    await asyncio.sleep(0.3)
    server.stop()
    assert await panel.close_code(timeout=10) == 1012
