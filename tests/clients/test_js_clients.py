"""Real JavaScript clients against a real server: each one subscribes, receives an event, and stops for good
when its session is logged out elsewhere (no reconnect with a dead token).

graphql-ws (graphql-transport-ws) and subscriptions-transport-ws (the legacy graphql-ws subprotocol) over
websockets; graphql-sse (GraphQL over SSE) and fetch + meros (multipart subscriptions) over plain HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.clients.scene import SUBSCRIPTION, Scene, log_laptop_out_from_phone, scene
from tests.support.live_server import LiveServer
from tests.support.node import NodeScript

pytestmark = pytest.mark.slow

NO_RETRY_WINDOW = 1.0  # the clients retry after 100 ms: a retry would show up well within this


async def subscribe(protocol: str, url: str, scene: Scene) -> NodeScript:
    """The client subscribes from the cursor, so the phone's login is replayed to it (no timing involved)."""
    return await NodeScript.start(
        "clients.mjs", protocol, url, scene.laptop_token, SUBSCRIPTION, json.dumps({"after": scene.cursor})
    )


def event_of(message: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in message["payload"], message
    event: dict[str, Any] = message["payload"]["data"]["sessionEvents"]
    return event


def connection_attempts(client: NodeScript) -> list[dict[str, Any]]:
    return [message for message in client.messages if message["event"] == "connecting"]


async def test_graphql_ws_client_stops_without_retrying_after_4401(server: LiveServer, node_modules: Path) -> None:
    seen = await scene(server)
    client = await subscribe("graphql-ws", server.ws_url, seen)
    try:
        event = event_of(await client.wait_for("next"))
        assert (event["type"], event["session"]["id"]) == ("CREATED", seen.phone_session)

        await log_laptop_out_from_phone(server, seen)
        closed = await client.wait_for("closed")
        assert (closed["code"], closed["reason"]) == (4401, "Session ended")
        error = await client.wait_for("error")  # the subscription fails with the close event: fatal, no retry
        assert error["code"] == 4401
        assert [m["event"] for m in await client.messages_within(NO_RETRY_WINDOW)] == []
        assert connection_attempts(client) == [{"event": "connecting", "retry": False}]
    finally:
        await client.stop()


async def test_legacy_subscriptions_transport_ws_client(server: LiveServer, node_modules: Path) -> None:
    seen = await scene(server)
    client = await subscribe("legacy", server.ws_url, seen)
    try:
        await client.wait_for("connected")
        event = event_of(await client.wait_for("next"))
        assert (event["type"], event["session"]["id"]) == ("CREATED", seen.phone_session)

        await log_laptop_out_from_phone(server, seen)
        closed = await client.wait_for("closed")
        assert closed["code"] == 4401
        await client.wait_for("disconnected")
        assert [m["event"] for m in await client.messages_within(NO_RETRY_WINDOW)] == []
        assert connection_attempts(client) == [{"event": "connecting", "retry": False}]
    finally:
        await client.stop()


@pytest.mark.parametrize("protocol", ["sse", "multipart"])
async def test_http_stream_ends_with_unauthenticated_when_its_session_ends(
    server: LiveServer, node_modules: Path, protocol: str
) -> None:
    """GraphQL over SSE (graphql-sse) and multipart subscriptions: authenticated by the Authorization header; the
    stream's last result is an UNAUTHENTICATED error once its session ends, then it completes."""
    seen = await scene(server)
    client = await subscribe(protocol, f"{server.base_url}/graphql", seen)
    try:
        event = event_of(await client.wait_for("next"))
        assert (event["type"], event["session"]["id"]) == ("CREATED", seen.phone_session)

        await log_laptop_out_from_phone(server, seen)
        last = await client.wait_for("next")
        assert last["payload"]["data"] is None
        assert [e["extensions"]["code"] for e in last["payload"]["errors"]] == ["UNAUTHENTICATED"]
        await client.wait_for("complete")
        assert [m["event"] for m in await client.messages_within(NO_RETRY_WINDOW)] == []
        assert connection_attempts(client) == [{"event": "connecting", "retry": False}]
    finally:
        await client.stop()


@pytest.mark.parametrize("protocol", ["sse", "multipart"])
async def test_http_stream_refuses_a_missing_token(server: LiveServer, node_modules: Path, protocol: str) -> None:
    client = await NodeScript.start("clients.mjs", protocol, f"{server.base_url}/graphql", "not-a-token")
    try:
        refused = await client.wait_for("next")
        assert [e["extensions"]["code"] for e in refused["payload"]["errors"]] == ["UNAUTHENTICATED"]
        await client.wait_for("complete")
    finally:
        await client.stop()
