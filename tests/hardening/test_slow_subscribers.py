"""A subscriber that stops reading is cut off; the others get every event; the server's memory stays flat."""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.hardening.conftest import GRAPHQL_TRANSPORT_WS, MEMBER_A, Deployment, log_in
from tests.support.graphql_http import graphql
from tests.support.graphql_ws import GraphQLWebSocket

pytestmark = pytest.mark.slow

QUEUE_SIZE = 10
PRODUCE_SECONDS = 6.0
# The kernel buffers up to 4 MiB for a client that does not read (tcp_wmem), before the server's sends
# block and its queue for that subscriber fills. So that a few dozen events do it, the hostile subscriber
# asks for fat ones: 150 copies of a 1,000-character User-Agent (the alias limit is raised for it).
ALIASES = 150
FAT_EVENTS = (
    "subscription { sessionEvents { id "
    + " ".join(f"u{i}: session {{ device {{ userAgent }} }}" for i in range(ALIASES))
    + " } }"
)
FAT_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) " + "x" * 960


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def newest_event_id(database: Path) -> int:
    with sqlite3.connect(database) as db:
        return int(db.execute("SELECT coalesce(max(id), 0) FROM session_event").fetchone()[0])


def event_ids_after(database: Path, after: int) -> list[int]:
    with sqlite3.connect(database) as db:
        return [row[0] for row in db.execute("SELECT id FROM session_event WHERE id > ? ORDER BY id", (after,))]


async def stalled_subscriber(ws_url: str, port: int, token: str) -> ClientConnection:
    """Subscribes, then never reads again: a tiny receive buffer and a one-message client queue."""
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.setblocking(False)
    await asyncio.get_running_loop().sock_connect(raw, ("127.0.0.1", port))
    client = await connect(ws_url, sock=raw, subprotocols=[GRAPHQL_TRANSPORT_WS], max_queue=1, max_size=None)
    await client.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
    assert json.loads(await client.recv())["type"] == "connection_ack"
    await client.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": FAT_EVENTS}}))
    return client


async def produce_events(base_url: str, tokens: list[str], seconds: float) -> None:
    """Sessions flip IDLE (the sweeper) and back to ACTIVE (a request): an UPDATED event each time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await asyncio.gather(*(graphql(base_url, "{ viewer { id } }", token=t) for t in tokens))
        await asyncio.sleep(0.3)


async def drain(client: ClientConnection, timeout: float = 15) -> tuple[int, int | None]:
    """Read what the stalled client had buffered: (events received, close code)."""
    events = 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                message = json.loads(await client.recv())
                events += message.get("type") == "next"
    except ConnectionClosed as closed:
        return events, closed.rcvd.code if closed.rcvd else None
    except TimeoutError:
        return events, None


async def test_a_subscriber_that_stops_reading_is_cut_off_and_others_get_everything(deployment: Deployment) -> None:
    server = deployment.start(
        SUBSCRIBER_QUEUE_SIZE=str(QUEUE_SIZE),
        IDLE_WINDOW_SECONDS="0.15",
        SWEEP_INTERVAL_SECONDS="0.1",
        TOUCH_INTERVAL_SECONDS="0",
        MAX_QUERY_ALIASES=str(ALIASES),
    )
    assert server.process is not None
    database = deployment.directory / "sessions.db"
    tokens = []
    for _ in range(4):
        answer = await log_in(server.base_url, MEMBER_A[0], **{"user-agent": FAT_USER_AGENT})
        tokens.append(answer["data"]["login"]["token"])
    watcher = await GraphQLWebSocket.open(server.ws_url, tokens[0])
    await watcher.acknowledged()
    await watcher.subscribe()
    stalled = await stalled_subscriber(server.ws_url, server.port, tokens[1])
    await asyncio.sleep(0.5)
    start = newest_event_id(database)
    rss_before = rss_kib(server.process.pid)

    received: list[int] = []

    async def watch() -> None:
        while True:
            received.append(int((await watcher.next_event(timeout=10))["id"]))

    watching = asyncio.create_task(watch())
    await produce_events(server.base_url, tokens[2:], PRODUCE_SECONDS)
    await asyncio.sleep(1.5)
    watching.cancel()
    rss_after = rss_kib(server.process.pid)

    produced = event_ids_after(database, start)
    assert len(produced) > 40, "too few events to fill the buffers"
    assert sorted({i for i in received if i > start}) == produced, "the reading subscriber missed events"
    stalled_events, close_code = await drain(stalled)
    assert stalled_events < len(produced) - QUEUE_SIZE, "the stalled subscriber was not cut off"
    assert close_code == 1013  # "too slow: reconnect with after", after whatever was already in flight
    assert rss_after - rss_before < 30 * 1024, f"server RSS grew by {(rss_after - rss_before) // 1024} MiB"
    assert "errors" not in await graphql(server.base_url, "{ viewer { id } }", token=tokens[0])
    await watcher.close()
