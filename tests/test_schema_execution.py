"""The schema executed directly (`schema.execute`, `schema.subscribe`) over the real service layer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from strawberry.types import ExecutionResult

from schema.build import build_schema
from schema.context import Context
from server import Runtime
from tests.conftest import PASSWORD, People
from tests.support.graphql_http import IPHONE_SAFARI

LOGIN = """mutation($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { token session { id isCurrent device { type } } }
}"""
LIST = """{ activeSessions(first: 1) {
  totalCount eventCursor edges { cursor node { id isCurrent } } pageInfo { hasNextPage endCursor }
} }"""
EVENTS = "subscription($after: ID) { sessionEvents(after: $after) { id type session { id isCurrent endReason } } }"


def context(runtime: Runtime, token: str | None = None, *, websocket: bool = False) -> Context:
    return Context(
        services=runtime.services,
        client_ip="198.51.100.7",
        user_agent=IPHONE_SAFARI,
        authorization=f"Bearer {token}" if token else None,
        is_websocket=websocket,
    )


async def execute(
    schema: strawberry.Schema, runtime: Runtime, query: str, token: str | None = None, **variables: Any
) -> ExecutionResult:
    return await schema.execute(query, variable_values=variables, context_value=context(runtime, token))


async def test_login_list_and_paginate(runtime: Runtime, people: People) -> None:
    schema = build_schema(runtime.settings)
    await people.user("ana@acme.test")
    logins = [await execute(schema, runtime, LOGIN, email="ana@acme.test", password=PASSWORD) for _ in range(2)]
    assert all(result.errors is None for result in logins)
    token = logins[1].data["login"]["token"]  # type: ignore[index]
    assert logins[1].data["login"]["session"]["device"]["type"] == "MOBILE"  # type: ignore[index]

    first_page = await execute(schema, runtime, LIST, token)
    assert first_page.errors is None
    connection = first_page.data["activeSessions"]  # type: ignore[index]
    assert connection["totalCount"] == 2 and connection["pageInfo"]["hasNextPage"] is True
    assert connection["edges"][0]["node"]["isCurrent"] is True
    assert int(connection["eventCursor"]) >= 2


async def test_unauthenticated_calls_are_coded(runtime: Runtime) -> None:
    schema = build_schema(runtime.settings)
    result = await execute(schema, runtime, "{ viewer { email } }")
    assert result.errors is not None
    assert result.errors[0].extensions == {"code": "UNAUTHENTICATED"}


async def test_subscribe_replays_then_streams_and_ends_with_the_viewers_session(
    runtime: Runtime, people: People
) -> None:
    schema = build_schema(runtime.settings)
    await people.user("ana@acme.test")
    first = await execute(schema, runtime, LOGIN, email="ana@acme.test", password=PASSWORD)
    token = first.data["login"]["token"]  # type: ignore[index]
    subscription = await schema.subscribe(
        EVENTS, variable_values={"after": "0"}, context_value=context(runtime, token, websocket=True)
    )
    assert isinstance(subscription, AsyncGenerator)
    replayed = await asyncio.wait_for(anext(subscription), 5)
    assert replayed.data["sessionEvents"]["type"] == "CREATED"  # type: ignore[index]
    assert replayed.data["sessionEvents"]["session"]["isCurrent"] is True  # type: ignore[index]

    second = await execute(schema, runtime, LOGIN, email="ana@acme.test", password=PASSWORD)
    live = await asyncio.wait_for(anext(subscription), 5)
    assert live.data["sessionEvents"]["session"]["id"] == second.data["login"]["session"]["id"]  # type: ignore[index]
    assert live.data["sessionEvents"]["session"]["isCurrent"] is False  # type: ignore[index]

    other_token = second.data["login"]["token"]  # type: ignore[index]
    own_id = first.data["login"]["session"]["id"]  # type: ignore[index]
    ended = await execute(
        schema,
        runtime,
        "mutation($id: ID!) { logoutSession(id: $id) { session { endReason } } }",
        other_token,
        id=own_id,
    )
    assert ended.data["logoutSession"]["session"]["endReason"] == "REVOKED"  # type: ignore[index]
    remaining = [result async for result in subscription]
    assert remaining == []  # the stream ends with the viewer's own session; nothing after the end
