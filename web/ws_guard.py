"""Websocket protocol handlers that check each message's shape before Strawberry reads it.

Strawberry's handlers index messages as they come: a JSON array, a number, a string payload or a list id
raises inside the handler, which drops the connection without a close code and logs a stack trace. Here
any malformed message closes the socket with **4400** and a short reason, as the protocol asks."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, cast

from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    Message,
    SubscribeMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import OperationMessage

from schema.context import SOCKET_OPERATION, SocketOperation
from schema.socket_documents import EventsDocuments
from web.socket_subscribe import serve_subscribe

BAD_MESSAGE = 4400
MAX_CLOSE_REASON_BYTES = 123  # a close frame carries at most 125 bytes, two of them the code
TOO_MANY_OPERATIONS = "TOO_MANY_OPERATIONS"


def close_reason(text: str) -> str:
    """`text` cut to what a close frame can carry (a longer reason fails the close itself)."""
    return text.encode()[:MAX_CLOSE_REASON_BYTES].decode(errors="ignore")


def _operation_problem(payload: object) -> str | None:
    if not isinstance(payload, dict):
        return "The operation payload must be an object"
    if not isinstance(payload.get("query"), str):
        return "The operation's query must be a string"
    for key, kind, name in (("variables", dict, "an object"), ("extensions", dict, "an object")):
        if payload.get(key) is not None and not isinstance(payload[key], kind):
            return f"The operation's {key} must be {name}"
    if payload.get("operationName") is not None and not isinstance(payload["operationName"], str):
        return "The operation's operationName must be a string"
    return None


def _message_problem(message: object, *, operation_types: tuple[str, ...], id_types: tuple[str, ...]) -> str | None:
    if not isinstance(message, dict):
        return "A message must be a JSON object"
    kind = message.get("type")
    if not isinstance(kind, str):
        return "A message's type must be a string"
    if kind in id_types and (not isinstance(message.get("id"), str) or not message["id"]):
        return "A message's id must be a non-empty string"
    if kind in operation_types:
        return _operation_problem(message.get("payload"))
    return None


def transport_ws_problem(message: object) -> str | None:
    """What is wrong with a graphql-transport-ws message, or None."""
    return _message_problem(message, operation_types=("subscribe",), id_types=("subscribe", "complete"))


def legacy_ws_problem(message: object) -> str | None:
    """What is wrong with a (legacy) graphql-ws message, or None."""
    return _message_problem(message, operation_types=("start",), id_types=("start", "stop"))


class GuardedTransportWSHandler(BaseGraphQLTransportWSHandler[Any, None]):
    async def handle_message(self, message: Message) -> None:
        if problem := transport_ws_problem(message):
            await self.handle_invalid_message(problem)
            return
        if message["type"] == "subscribe" and self._over_operation_limit(message["id"]):
            # Strawberry's own refusal carries no code; this one does.
            await self.send_message(
                {
                    "id": message["id"],
                    "type": "error",
                    "payload": [
                        {
                            "message": "Too many operations on this connection.",
                            "extensions": {"code": TOO_MANY_OPERATIONS},
                        }
                    ],
                }
            )
            return
        if message["type"] != "subscribe":
            await super().handle_message(message)
            return
        with _operation_started(message["id"], message["payload"], legacy=False):
            await super().handle_message(message)
        # Strawberry's read loop keeps its last message until the next one: on an idle socket, for hours.
        message.clear()  # type: ignore[attr-defined]

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        documents: EventsDocuments | None = getattr(self.view, "events_documents", None)
        operation = SOCKET_OPERATION.get()  # set by `handle_message` around this call
        if (
            documents is not None
            and operation is not None
            and self.connection_acknowledged
            and message["id"] not in self.operations
            and await serve_subscribe(
                documents, self.operations, self.context, operation, cast("dict[str, Any]", message["payload"])
            )
        ):
            return
        await super().handle_subscribe(message)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        if self.connection_init_received:
            # The cancelled timeout task would otherwise keep its CancelledError, traceback and frames for the
            # connection's whole life (a few KiB on every one of thousands of idle sockets).
            self.connection_init_timeout_task = None

    async def handle_task_exception(self, error: Exception) -> None:
        # An operation finishing after the server closed its socket (revocation: 4401, shutdown: 1012) cannot
        # send its `complete`; that is the expected end, not a failure worth a stack trace.
        if isinstance(error, WebSocketDisconnected):
            return
        await super().handle_task_exception(error)

    def _over_operation_limit(self, operation_id: str) -> bool:
        limit = self.max_subscriptions_per_connection
        return (
            self.connection_acknowledged
            and operation_id not in self.operations
            and limit is not None
            and len(self.operations) >= limit
        )


class GuardedLegacyWSHandler(BaseGraphQLWSHandler[Any, None]):
    async def handle_message(self, message: OperationMessage) -> None:
        if problem := legacy_ws_problem(message):
            await self.websocket.close(code=BAD_MESSAGE, reason=problem)
            return
        if message["type"] != "start":
            await super().handle_message(message)
            return
        with _operation_started(message["id"], message["payload"], legacy=True):
            await super().handle_message(message)


@contextlib.contextmanager
def _operation_started(operation_id: str, payload: Any, *, legacy: bool) -> Iterator[None]:
    """The operation's task, created inside, sees which operation it runs (`SOCKET_OPERATION`)."""
    operation = SocketOperation.create(
        operation_id=operation_id,
        query=payload["query"],
        variables=payload.get("variables"),
        operation_name=payload.get("operationName"),
        legacy=legacy,
    )
    token = SOCKET_OPERATION.set(operation)
    try:
        yield
    finally:
        SOCKET_OPERATION.reset(token)
