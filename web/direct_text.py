"""Text frames written straight into uvicorn's websockets-sansio protocol when they can leave at once.

For a text message, uvicorn's ASGI `send` waits until the transport is writable, checks that the handshake is
done and no close was sent, frames the text with websockets' sans-I/O `ServerProtocol.send_text` and writes the
bytes to the transport. `DirectText.write` does the same steps without the coroutine, the message dict and the
awaits, which are most of the service's own cost per delivery in a fan-out to thousands of sockets. Whenever a
frame cannot leave at once (the transport is paused, the handshake or the close is under way, the client is
gone) it writes nothing and says so, and the caller uses ASGI's `send`, which waits or raises as usual.

It relies on the attributes of the uvicorn version the project pins (pyproject.toml); `DirectText.of` returns
None for any other server, and everything goes through ASGI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState

_PROTOCOL_ATTRIBUTES = ("writable", "disconnected", "handshake_complete", "close_sent", "initial_response", "conn")


class DirectText:
    __slots__ = ("_protocol",)

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        self._protocol = protocol

    @classmethod
    def of(cls, send: Callable[..., Any]) -> DirectText | None:
        """The direct writer behind a server's own websocket `send`, if that server is uvicorn's sansio one."""
        protocol = getattr(send, "__self__", None)
        if isinstance(protocol, WebSocketsSansIOProtocol) and all(
            hasattr(protocol, name) for name in _PROTOCOL_ATTRIBUTES
        ):
            return cls(protocol)
        return None

    def write(self, text: str) -> bool:
        """Frame and write `text` now; False (nothing written) when it has to go through ASGI's `send`."""
        protocol = self._protocol
        if (
            not protocol.writable.is_set()
            or protocol.disconnected
            or not protocol.handshake_complete
            or protocol.close_sent
            or protocol.initial_response is not None
        ):
            return False
        try:
            protocol.conn.send_text(text.encode())
        except InvalidState:
            return False
        protocol.transport.write(b"".join(protocol.conn.data_to_send()))
        return True
