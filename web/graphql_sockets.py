"""Websocket upgrades on the GraphQL path go straight to the GraphQL router (the outermost of our middlewares).

Below this middleware a websocket would pass our other middlewares, Starlette's exception middleware, FastAPI's
router and its websocket route, whose dependency resolution keeps exit stacks open for the connection's whole
life: ~15 KiB per socket, idle or not, on thousands of open consoles (BENCHMARKS.md, P3). The router's `run`
needs none of it: this gives the socket its request id (for the logs), keeps the server's own `send` for the
frame writer, builds the same context the route's dependency would and calls it. HTTP requests, and
websockets on any other path, go on down the stack as before."""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from observability import log_context
from web.graphql_router import SessionsGraphQLRouter, build_context
from web.request_id import request_id
from web.server_send import SERVER_SEND


class GraphQLSockets:
    def __init__(self, app: ASGIApp, *, router: SessionsGraphQLRouter, path: str) -> None:
        self.app = app
        self._router = router
        self._path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket" or _route_path(scope) != self._path:
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})[SERVER_SEND] = send  # the server's own: no wrapper between frames and it
        token = log_context.request_id.set(request_id(scope))
        try:
            websocket = WebSocket(scope, receive, send)
            context: Any = await build_context(websocket)
            context.request = websocket
            await self._router.run(request=websocket, context=context, root_value=None)
        finally:
            log_context.request_id.reset(token)


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path
