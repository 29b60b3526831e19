"""An operation that ends while its socket is backed up sends nothing after its end: frames still queued for it
are dropped, so no `data` follows the server's `complete`, and a new operation reusing the id never receives
the old one's results after its own."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from tests.conftest import PASSWORD
from tests.support.cli import create_user
from tests.support.graphql_http import login
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.slow

FAT_USER_AGENT = "Mozilla/5.0 " + "x" * 900
ALIASES = 200
FAT_EVENTS = (
    "subscription { sessionEvents(allUsers: true) { id type "
    + " ".join(f"a{i}: session {{ device {{ userAgent }} }}" for i in range(ALIASES))
    + " } }"
)
SMALL_EVENTS = "subscription { sessionEvents(allUsers: true) { fresh: id } }"
# ~100 KB frames each (User-Agents are returned cut to 500 characters), to a client that reads nothing:
# most wait in the server's queue
EVENTS = 50


@pytest.fixture
def server(start_server: Callable[..., LiveServer], tmp_path: Path) -> LiveServer:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sessions.db'}"
    create_user(url, "admin@acme.test", admin=True)
    create_user(url, "bo@acme.test")
    limits = {"MAX_QUERY_ALIASES": "250", "MAX_QUERY_TOKENS": "5000", "LOGIN_ATTEMPTS_PER_EMAIL": "100"}
    return start_server({"DATABASE_URL": url, "LOGIN_ATTEMPTS_PER_ADDRESS": "100", **limits})


async def backed_up_socket(server: LiveServer, protocol: str, token: str) -> ClientConnection:
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.setblocking(False)
    await asyncio.get_running_loop().sock_connect(raw, ("127.0.0.1", server.port))
    client = await connect(server.ws_url, sock=raw, subprotocols=[Subprotocol(protocol)], max_queue=1, max_size=None)
    await client.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
    assert json.loads(await client.recv())["type"] == "connection_ack"
    return client


async def messages_until_quiet(client: ClientConnection) -> list[dict[str, Any]]:
    messages = []
    while True:
        try:
            messages.append(json.loads(await asyncio.wait_for(client.recv(), 2)))
        except TimeoutError:
            return messages


async def flooded_operation(server: LiveServer, protocol: str, start: dict[str, Any]) -> ClientConnection:
    """A backed-up socket whose operation `start` began, then had EVENTS fat events sent its way."""
    token, _ = await login(server.base_url, "admin@acme.test", PASSWORD)
    client = await backed_up_socket(server, protocol, token)
    await client.send(json.dumps(start))
    await asyncio.sleep(0.5)
    for _ in range(EVENTS):
        await login(server.base_url, "bo@acme.test", PASSWORD, user_agent=FAT_USER_AGENT)
    await asyncio.sleep(0.5)
    return client


async def test_legacy_stop_while_backed_up_sends_no_data_after_complete(server: LiveServer) -> None:
    start = {"type": "start", "id": "L", "payload": {"query": FAT_EVENTS}}
    client = await flooded_operation(server, "graphql-ws", start)
    await client.send(json.dumps({"type": "stop", "id": "L"}))
    kinds = [m["type"] for m in await messages_until_quiet(client) if m["type"] != "ka"]
    assert "complete" in kinds
    assert "data" not in kinds[kinds.index("complete") :]
    assert 0 < kinds.count("data") < EVENTS  # some were on the wire already; the queued rest was dropped
    await client.close()


async def test_a_reused_id_never_gets_the_old_operations_results_after_its_own(server: LiveServer) -> None:
    start = {"id": "L", "type": "subscribe", "payload": {"query": FAT_EVENTS}}
    client = await flooded_operation(server, "graphql-transport-ws", start)
    await client.send(json.dumps({"id": "L", "type": "complete"}))
    await client.send(json.dumps({"id": "L", "type": "subscribe", "payload": {"query": SMALL_EVENTS}}))
    await asyncio.sleep(0.5)
    await login(server.base_url, "bo@acme.test", PASSWORD, user_agent="short")
    shapes = [
        "new" if "fresh" in m["payload"]["data"]["sessionEvents"] else "old"
        for m in await messages_until_quiet(client)
        if m["type"] == "next"
    ]
    assert shapes.count("new") == 1
    assert "old" not in shapes[shapes.index("new") :]
    assert shapes.count("old") < EVENTS
    await client.close()
