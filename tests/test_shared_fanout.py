"""The websocket fast path: one execution per (document, variables, isCurrent) and event, the same payload for
every subscriber that shares them, each subscriber its own frame id, scope and `isCurrent`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import PASSWORD
from tests.support.cli import create_user
from tests.support.graphql_http import login
from tests.support.graphql_ws import SUBSCRIBE_EVENTS, GraphQLWebSocket
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.slow

SMALL_SELECTION = "subscription { sessionEvents(allUsers: true) { id type session { id isCurrent } } }"
EXECUTIONS = "active_sessions_event_executions_total"
DELIVERED = "active_sessions_events_delivered_total"


@pytest.fixture
def server(start_server: Callable[..., LiveServer], tmp_path: Path) -> LiveServer:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sessions.db'}"
    create_user(url, "admin@acme.test", admin=True)
    create_user(url, "bo@acme.test")
    return start_server({"DATABASE_URL": url})


async def counter(server: LiveServer, name: str) -> float:
    async with httpx.AsyncClient() as client:
        text = (await client.get(server.base_url + "/metrics")).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} missing from /metrics")


@pytest.fixture
async def legacy_socket(server: LiveServer) -> AsyncIterator[Callable[[str, str, dict[str, Any]], Any]]:
    opened: list[ClientConnection] = []

    async def open_legacy(token: str, query: str, variables: dict[str, Any]) -> ClientConnection:
        socket = await connect(server.ws_url, subprotocols=["graphql-ws"])  # type: ignore[list-item]
        opened.append(socket)
        await socket.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        payload = {"query": query, "variables": variables}
        await socket.send(json.dumps({"type": "start", "id": "legacy-7", "payload": payload}))
        return socket

    yield open_legacy
    for socket in opened:
        await socket.close()


async def next_legacy_frame(socket: ClientConnection) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), 5))
        if message["type"] != "ka":
            return message


async def test_one_execution_per_document_and_variables_and_every_subscriber_its_own_frame(
    server: LiveServer, legacy_socket: Callable[[str, str, dict[str, Any]], Any]
) -> None:
    admin, _ = await login(server.base_url, "admin@acme.test", PASSWORD)
    admin_laptop, _ = await login(server.base_url, "admin@acme.test", PASSWORD)
    bo, _ = await login(server.base_url, "bo@acme.test", PASSWORD)
    panels = [await GraphQLWebSocket.open(server.ws_url, admin) for _ in range(4)]
    for panel in panels:
        await panel.acknowledged()
    ids = [await panel.subscribe(variables={"allUsers": True}) for panel in panels]
    second_id = await panels[0].subscribe(variables={"allUsers": True})  # a second operation on one socket
    small = await GraphQLWebSocket.open(server.ws_url, admin_laptop)
    await small.acknowledged()
    await small.subscribe(SMALL_SELECTION)
    own = await GraphQLWebSocket.open(server.ws_url, bo)
    await own.acknowledged()
    await own.subscribe()
    legacy = await legacy_socket(admin_laptop, SUBSCRIBE_EVENTS, {"allUsers": True})
    await asyncio.sleep(0.5)
    executions, delivered = await counter(server, EXECUTIONS), await counter(server, DELIVERED)

    _, phone = await login(server.base_url, "bo@acme.test", PASSWORD)  # one CREATED event

    frames = [json.loads(await asyncio.wait_for(panel.connection.recv(), 5)) for panel in panels]
    frames.append(json.loads(await asyncio.wait_for(panels[0].connection.recv(), 5)))
    assert sorted(frame["id"] for frame in frames) == sorted([*ids, second_id])
    assert all(frame["type"] == "next" for frame in frames)
    payloads = {json.dumps(frame["payload"], sort_keys=True) for frame in frames}
    assert len(payloads) == 1  # byte for byte the same result
    event = frames[0]["payload"]["data"]["sessionEvents"]
    assert (event["type"], event["session"]["id"], event["session"]["isCurrent"]) == ("CREATED", phone["id"], False)
    assert event["session"]["user"]["email"] == "bo@acme.test"
    assert (await small.next_event())["session"] == {"id": phone["id"], "isCurrent": False}
    assert (await own.next_event())["session"]["id"] == phone["id"]
    legacy_frame = await next_legacy_frame(legacy)
    assert (legacy_frame["type"], legacy_frame["id"]) == ("data", "legacy-7")
    assert json.dumps(legacy_frame["payload"], sort_keys=True) in payloads

    # Three executions: the panels' document (shared by graphql-transport-ws and graphql-ws), the small one,
    # and bo's own-scope document (other variables); eight frames.
    assert await counter(server, EXECUTIONS) - executions == 3
    assert await counter(server, DELIVERED) - delivered == 8
    for socket in [*panels, small, own]:
        await socket.close()


async def test_is_current_is_true_only_in_the_frame_of_the_session_itself(server: LiveServer) -> None:
    admin, admin_session = await login(server.base_url, "admin@acme.test", PASSWORD)
    other_admin, _ = await login(server.base_url, "admin@acme.test", PASSWORD)
    mine = await GraphQLWebSocket.open(server.ws_url, admin)
    theirs = await GraphQLWebSocket.open(server.ws_url, other_admin)
    for socket in (mine, theirs):
        await socket.acknowledged()
        await socket.subscribe(variables={"allUsers": True, "after": "0"})  # replays both CREATED events

    mine_events = [await mine.next_event(), await mine.next_event()]
    theirs_events = [await theirs.next_event(), await theirs.next_event()]
    current_in_mine = {e["session"]["id"]: e["session"]["isCurrent"] for e in mine_events}
    current_in_theirs = {e["session"]["id"]: e["session"]["isCurrent"] for e in theirs_events}
    assert current_in_mine[admin_session["id"]] is True
    assert current_in_theirs[admin_session["id"]] is False
    assert sum(current_in_mine.values()) == 1 and sum(current_in_theirs.values()) == 1
    await mine.close()
    await theirs.close()


async def test_a_socket_with_many_operations_gets_each_event_once_per_operation_in_order(server: LiveServer) -> None:
    admin, _ = await login(server.base_url, "admin@acme.test", PASSWORD)
    panel = await GraphQLWebSocket.open(server.ws_url, admin)
    await panel.acknowledged()
    first = await panel.subscribe(variables={"allUsers": True})
    second = await panel.subscribe(SMALL_SELECTION)
    await asyncio.sleep(0.5)
    for _ in range(5):
        await login(server.base_url, "bo@acme.test", PASSWORD)
    seen: dict[str, list[int]] = {first: [], second: []}
    while sum(map(len, seen.values())) < 10:
        frame = json.loads(await asyncio.wait_for(panel.connection.recv(), 5))
        seen[frame["id"]].append(int(frame["payload"]["data"]["sessionEvents"]["id"]))
    assert seen[first] == seen[second] == sorted(seen[first]) and len(set(seen[first])) == 5
    await panel.close()
