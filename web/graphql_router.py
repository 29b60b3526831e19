"""Strawberry's FastAPI router, with token checks on websocket connect and socket bookkeeping."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.types.unset import UnsetType

from core.errors import ServiceError
from schema.context import Context, Services
from services.client_address import client_address
from web.connections import ConnectionRegistry, LiveConnection


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
    )


class SessionsGraphQLRouter(GraphQLRouter[Context, None]):
    websocket_adapter_class = ClosedSafeWebSocketAdapter

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        try:
            viewer = await context.viewer()
        except ServiceError as exc:
            raise ConnectionRejectionError({"code": exc.code.value, "message": exc.message}) from exc
        websocket = context.request
        assert isinstance(websocket, WebSocket)
        registry: ConnectionRegistry = websocket.state.registry
        connection = LiveConnection(websocket, session_id=viewer.session_id, account_id=viewer.account_id)
        context.socket = connection
        await registry.register(connection)
        return None

    async def run(self, request: Any, context: Any = None, root_value: Any = None) -> Any:
        try:
            return await super().run(request=request, context=context, root_value=root_value)
        finally:
            socket = getattr(context, "socket", None)
            if isinstance(socket, LiveConnection):
                socket.closed = True
                await request.state.registry.unregister(socket)
