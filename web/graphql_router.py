"""Strawberry's FastAPI router, with token checks on websocket connect and socket bookkeeping."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import strawberry
from cross_web import HTTPException
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions import (
    GRAPHQL_SSE_PROTOCOL,
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    GRAPHQL_WS_PROTOCOL,
    MULTIPART_SUBSCRIPTION_PROTOCOL,
)
from strawberry.types.unset import UnsetType

from core.database import Database
from core.errors import ServiceError
from core.settings import Settings
from schema.context import Context, Services
from schema.socket_documents import EventsDocuments
from services.client_address import client_address
from web.connections import ConnectionRegistry, LiveConnection
from web.graphql_http import ConformantGraphQLRouter
from web.http_errors import coded_error_response
from web.json_input import decode_json, require_request_object
from web.ws_guard import GuardedLegacyWSHandler, GuardedTransportWSHandler, close_reason

TOO_MANY_CONNECTIONS = "TOO_MANY_CONNECTIONS"
# Websockets (graphql-transport-ws; the legacy graphql-ws), and streams over plain HTTP, opt-in in Strawberry:
# GraphQL over SSE and multipart subscriptions, authenticated by the Authorization header like any request.
SUBSCRIPTION_PROTOCOLS = (
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    GRAPHQL_WS_PROTOCOL,
    GRAPHQL_SSE_PROTOCOL,
    MULTIPART_SUBSCRIPTION_PROTOCOL,
)


class ClosedSafeWebSocketAdapter(ASGIWebSocketAdapter):
    """Sends on a socket the server already closed (revocation, shutdown) end quietly."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        if (
            self.ws.application_state is WebSocketState.DISCONNECTED
            or self.ws.client_state is WebSocketState.DISCONNECTED
        ):
            raise WebSocketDisconnected
        try:
            await super().send_json(message)
        except RuntimeError as exc:
            raise WebSocketDisconnected from exc

    async def close(self, code: int, reason: str) -> None:
        await super().close(code, close_reason(reason))


async def build_context(connection: HTTPConnection) -> Context:
    services: Services = connection.state.services
    peer = connection.client.host if connection.client else None
    return Context(
        services=services,
        client_ip=client_address(
            peer, connection.headers.get("x-forwarded-for"), services.settings.trusted_proxy_networks
        ),
        user_agent=connection.headers.get("user-agent"),
        authorization=connection.headers.get("authorization"),
        is_websocket=connection.scope["type"] == "websocket",
        draining=connection.state.drain.started,
    )


class SessionsGraphQLRouter(ConformantGraphQLRouter):
    websocket_adapter_class = ClosedSafeWebSocketAdapter
    graphql_transport_ws_handler_class = GuardedTransportWSHandler
    graphql_ws_handler_class = GuardedLegacyWSHandler

    def __init__(self, schema: strawberry.Schema, *, settings: Settings, **options: Any) -> None:
        super().__init__(schema, **options)
        # `sessionEvents` documents recognised for the websocket fast path (web/socket_subscribe.py).
        self.events_documents = EventsDocuments(schema._schema, settings)

    def decode_json(self, data: str | bytes) -> object:
        return decode_json(data)

    def parse_json(self, data: str | bytes) -> Any:
        return require_request_object(super().parse_json(data))

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        try:
            viewer = await context.viewer()
        except ServiceError as exc:
            raise ConnectionRejectionError({"code": exc.code.value, "message": exc.message}) from exc
        websocket = context.request
        assert isinstance(websocket, WebSocket)
        registry: ConnectionRegistry = websocket.state.registry
        # Counted and registered with no await in between, so concurrent handshakes cannot both slip in.
        if registry.count_for_session(viewer.session_id) >= context.services.settings.max_sockets_per_session:
            raise ConnectionRejectionError(
                {"code": TOO_MANY_CONNECTIONS, "message": "Too many open websockets for this session."}
            )
        connection = LiveConnection(
            websocket,
            session_id=viewer.session_id,
            account_id=viewer.account_id,
            max_pending=context.services.settings.subscriber_queue_size,
        )
        context.socket = connection
        await registry.register(connection)
        return None

    async def run(self, request: Any, context: Any = None, root_value: Any = None) -> Any:
        try:
            if isinstance(request, WebSocket):  # reads per operation: a socket lives long
                return await super().run(request=request, context=context, root_value=root_value)
            database: Database = request.state.database
            async with database.sharing_reads():
                return await super().run(request=request, context=context, root_value=root_value)
        except HTTPException as exc:  # refusals before GraphQL runs: the GraphQL error shape, with a code
            return coded_error_response(exc.status_code, exc.reason)
        finally:
            socket = getattr(context, "socket", None)
            if isinstance(socket, LiveConnection):
                socket.closed = True
                await request.state.registry.unregister(socket)
