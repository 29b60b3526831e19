"""A second, tiny subgraph for the federation tests: it extends the service's `User` entity with a `profile`.

    python -m tests.federation.profiles_subgraph PORT

It resolves `User.profile` by key through `_entities`, knows nothing else about users, and answers
`GET /seen-authorization` with every Authorization header it has received (the gateway is configured to send
the caller's token to the sessions subgraph only)."""

from __future__ import annotations

import sys
from typing import Any

import strawberry
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from strawberry.asgi import GraphQL

SEEN_AUTHORIZATION: list[str] = []


def handle_for(user_id: str) -> str:
    return f"user-{user_id[:8]}"


@strawberry.type
class Profile:
    handle: str
    theme: str


@strawberry.federation.type(keys=["id"])
class User:
    id: strawberry.ID

    @strawberry.field
    def profile(self) -> Profile:
        return Profile(handle=handle_for(str(self.id)), theme="dark")

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> User:
        return cls(id=id)


schema = strawberry.federation.Schema(types=[User], federation_version="2.9")  # Query: _service and _entities


class RecordingGraphQL(GraphQL[Any, None]):
    async def get_context(self, request: Any, response: Any) -> Any:
        header = request.headers.get("authorization")
        if header:
            SEEN_AUTHORIZATION.append(header)
        return await super().get_context(request, response)


async def seen_authorization(_request: Request) -> JSONResponse:
    return JSONResponse(SEEN_AUTHORIZATION)


app = Starlette(
    routes=[
        Route("/seen-authorization", seen_authorization),
        Route("/healthz", lambda _request: JSONResponse("ok")),
        Route("/graphql", RecordingGraphQL(schema, graphql_ide=None)),
    ]
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
