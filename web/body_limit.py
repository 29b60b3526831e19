"""Refuses HTTP request bodies over a byte limit with 413, before anything parses them (pure ASGI).

A `Content-Length` over the limit is answered at once, without reading the body. Otherwise the body is
counted as it arrives (chunked uploads) and the application gets it only when it fits; one that grows past
the limit is still read (and dropped) up to `DRAIN_BYTES` more before the 413 goes out, because closing a
connection with unread data resets it and the client would see the reset instead of the answer. Anything
larger is refused at once and the connection closed. Websocket messages are limited by the server itself
(uvicorn's `ws_max_size`)."""

from __future__ import annotations

from http import HTTPStatus

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.http_errors import send_coded_error, send_oauth_error

DRAIN_BYTES = 1024 * 1024


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    @property
    def message(self) -> str:
        return f"Request body too large: at most {self.max_bytes} bytes."

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refuse = send_oauth_error if str(scope.get("path", "")).startswith(OAUTH_PREFIX) else send_coded_error
        ceiling = self.max_bytes + DRAIN_BYTES
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            # Known before reading: answer at once. The server drops the rest of the body as it arrives and
            # keeps the connection; past the ceiling the connection is closed rather than made to swallow it.
            await refuse(send, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, self.message, close=declared > ceiling)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: let the application see it
                await self.app(scope, _replay(message, receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > ceiling:
                await refuse(send, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, self.message, close=True)
                return
            if size <= self.max_bytes:
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        if size > self.max_bytes:
            await refuse(send, HTTPStatus.REQUEST_ENTITY_TOO_LARGE, self.message)
            return
        body: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay(body, receive), send)


OAUTH_PREFIX = "/oauth2/"  # OAuth endpoints answer in the RFC 6749 error shape


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(first: Message, receive: Receive) -> Receive:
    """A `receive` that answers `first` once, then defers to the server's (for `http.disconnect`)."""
    pending = [first]

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replay
