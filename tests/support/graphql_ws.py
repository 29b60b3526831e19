"""A minimal graphql-transport-ws client over the `websockets` library, for end-to-end tests."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

SUBSCRIBE_EVENTS = """
subscription Events($allUsers: Boolean, $after: ID) {
  sessionEvents(allUsers: $allUsers, after: $after) {
    id type occurredAt
    session { id status endReason isCurrent ipAddress durationSeconds user { id email } device { label type } }
  }
}
"""


class GraphQLWebSocket:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self._ids = itertools.count(1)

    @classmethod
    async def open(
        cls, ws_url: str, token: str | None, *, authorization_key: str = "Authorization", user_agent: str | None = None
    ) -> GraphQLWebSocket:
        headers = {"User-Agent": user_agent} if user_agent else None
        connection = await connect(ws_url, subprotocols=["graphql-transport-ws"], additional_headers=headers)  # type: ignore[list-item]
        client = cls(connection)
        payload = {authorization_key: f"Bearer {token}"} if token else {}
        await connection.send(json.dumps({"type": "connection_init", "payload": payload}))
        return client

    async def acknowledged(self, timeout: float = 5) -> dict[str, Any]:
        message = await self.receive(timeout)
        assert message["type"] == "connection_ack", message
        return message

    async def subscribe(self, query: str = SUBSCRIBE_EVENTS, variables: dict[str, Any] | None = None) -> str:
        operation_id = str(next(self._ids))
        await self.connection.send(
            json.dumps(
                {"id": operation_id, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}}
            )
        )
        return operation_id

    async def receive(self, timeout: float = 5) -> dict[str, Any]:
        while True:
            raw = await asyncio.wait_for(self.connection.recv(), timeout)
            message: dict[str, Any] = json.loads(raw)
            if message.get("type") not in ("ping", "pong"):
                return message

    async def next_event(self, timeout: float = 5) -> dict[str, Any]:
        message = await self.receive(timeout)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        event: dict[str, Any] = message["payload"]["data"]["sessionEvents"]
        return event

    async def events_until_quiet(self, quiet: float = 0.5) -> list[dict[str, Any]]:
        events = []
        while True:
            try:
                events.append(await self.next_event(quiet))
            except TimeoutError:
                return events

    async def close_code(self, timeout: float = 5) -> int | None:
        """Wait for the server to close the socket; returns the close code."""
        try:
            while True:
                await asyncio.wait_for(self.connection.recv(), timeout)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None

    async def close(self) -> None:
        await self.connection.close()


async def open_subscriber(ws_url: str, token: str, *, settle: float = 0.5, **variables: object) -> GraphQLWebSocket:
    """Connect, authenticate, subscribe to sessionEvents, and give the server `settle` seconds to attach it."""
    socket = await GraphQLWebSocket.open(ws_url, token)
    await socket.acknowledged()
    await socket.subscribe(variables=dict(variables))
    await asyncio.sleep(settle)
    return socket
