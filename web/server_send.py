"""Where each GraphQL websocket's server-side ASGI `send` is kept for the frame writer.

Event frames are written thousands at a time. Below the outermost middleware every layer's `send` wrapper
(Starlette's exception handlers, twice) has nothing to do for a websocket message but costs a call each; the
frame writer sends on the server's own `send` instead, which `web/graphql_sockets.py` keeps in the connection's
scope state under this key."""

from __future__ import annotations

SERVER_SEND = "server_send"
