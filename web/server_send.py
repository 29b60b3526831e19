"""Keeps each websocket's server-side ASGI `send` where the frame writer finds it.

Event frames are written thousands at a time. Below this middleware every layer's `send` wrapper (Starlette's
exception handlers, twice) has nothing to do for a websocket message but costs a call each; the frame writer
sends on the server's own `send` instead, kept here in the connection's scope state."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

SERVER_SEND = "server_send"


class KeepServerSend:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            scope.setdefault("state", {})[SERVER_SEND] = send
        await self.app(scope, receive, send)
