"""Gives every HTTP request and websocket a request id (the caller's X-Request-ID when sane), for the logs."""

from __future__ import annotations

import re
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from observability import log_context

_SANE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def request_id(scope: Scope) -> str:
    """The caller's X-Request-ID when sane, else a new one."""
    given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
    return given if _SANE.match(given) else uuid.uuid4().hex


class RequestId:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        value = request_id(scope)
        token = log_context.request_id.set(value)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", value.encode())]
            await send(message)

        try:  # a websocket sends no response headers: its sends (thousands per event) pass straight through
            await self.app(scope, receive, send_with_id if scope["type"] == "http" else send)
        finally:
            log_context.request_id.reset(token)
