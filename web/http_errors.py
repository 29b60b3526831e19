"""HTTP-level refusals (before any GraphQL runs) in the GraphQL error shape, with `extensions.code`."""

from __future__ import annotations

import json
from http import HTTPStatus

from starlette.responses import Response
from starlette.types import Send

CODE_BY_STATUS: dict[int, str] = {
    HTTPStatus.BAD_REQUEST: "BAD_REQUEST",
    HTTPStatus.NOT_FOUND: "NOT_FOUND",
    HTTPStatus.METHOD_NOT_ALLOWED: "METHOD_NOT_ALLOWED",
    HTTPStatus.NOT_ACCEPTABLE: "NOT_ACCEPTABLE",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "PAYLOAD_TOO_LARGE",
    HTTPStatus.UNSUPPORTED_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
}


def coded_error_body(status: int, message: str) -> bytes:
    code = CODE_BY_STATUS.get(status, "BAD_REQUEST")
    return json.dumps({"errors": [{"message": message, "extensions": {"code": code}}]}).encode()


def coded_error_response(
    status: int, message: str, *, media_type: str = "application/json", allow: str | None = None
) -> Response:
    """`media_type` is the one negotiated with the client (web/graphql_http.py); `allow` is the `Allow` header
    a 405 must carry."""
    if media_type != "application/json":
        media_type = f"{media_type}; charset=utf-8"
    headers = {"allow": allow} if allow else None
    return Response(coded_error_body(status, message), status_code=status, media_type=media_type, headers=headers)


async def send_coded_error(send: Send, status: int, message: str, *, close: bool = False) -> None:
    """The same answer from pure ASGI code (middleware that runs before the application)."""
    body = coded_error_body(status, message)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_oauth_error(send: Send, status: int, message: str, *, close: bool = False) -> None:
    """`send_coded_error` for OAuth endpoints: `{"error": "invalid_request", "error_description": ...}`."""
    body = json.dumps({"error": "invalid_request", "error_description": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
