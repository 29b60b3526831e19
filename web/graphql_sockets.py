"""Websocket upgrades on the GraphQL path go straight to the GraphQL router.

Below this middleware a websocket would pass Starlette's exception middleware, FastAPI's router and its
websocket route, whose dependency resolution keeps exit stacks open for the connection's whole life: ~14 KiB
per socket, idle or not, on thousands of open consoles (BENCHMARKS.md, P3). The router's `run` needs none of
it: this builds the same context the route's dependency would and calls it. HTTP requests, and websockets on
any other path, go on down the stack as before."""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from web.graphql_router import SessionsGraphQLRouter, build_context


class GraphQLSockets:
    def __init__(self, app: ASGIApp, *, router: SessionsGraphQLRouter, path: str) -> None:
        self.app = app
        self._router = router
        self._path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket" or _route_path(scope) != self._path:
            await self.app(scope, receive, send)
            return
        websocket = WebSocket(scope, receive, send)
        context: Any = await build_context(websocket)
        context.request = websocket
        await self._router.run(request=websocket, context=context, root_value=None)


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path
