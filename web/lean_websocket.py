"""uvicorn's websockets-sansio protocol, without the handshake once it is done.

uvicorn keeps the upgrade request (every header, parsed by websockets) and the handshake response on the
protocol for the connection's whole life, though nothing reads them after the handshake has been sent: a few
KiB per socket, more with browsers' cookies and long User-Agents, on thousands of idle consoles. They are
dropped at the first message the client sends after the handshake (its `connection_init`). The ASGI scope keeps
its own copy of the headers, as before."""

from __future__ import annotations

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.handshake_complete and "response" in self.__dict__:
            del self.request
            del self.response
