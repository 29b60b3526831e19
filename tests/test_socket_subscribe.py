"""The websocket fast path for `sessionEvents` (web/socket_subscribe.py): which documents it takes, and that on a
real server it keeps the protocol (complete, a reused id, refusals, revocation) and the subscription count."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from core.settings import Settings
from schema.build import build_schema
from schema.socket_documents import EventsDocuments
from tests.conftest import PASSWORD
from tests.support.cli import create_user
from tests.support.graphql_http import graphql, login
from tests.support.graphql_ws import GraphQLWebSocket
from tests.support.live_server import LiveServer

EVENTS = "subscription($all: Boolean, $after: ID) { sessionEvents(allUsers: $all, after: $after) { id type } }"
LOGOUT = "mutation End($id: ID!) { logoutSession(id: $id) { session { id } } }"


@pytest.fixture(scope="module")
def documents() -> EventsDocuments:
    settings = Settings(_env_file=None, environment="production", max_query_depth=2, max_query_aliases=3)
    return EventsDocuments(build_schema(settings)._schema, settings)


@pytest.mark.parametrize(
    ("query", "operation_name"),
    [
        (EVENTS, None),
        ("subscription { events: sessionEvents { id session { ...S } } } fragment S on Session { id }", None),
        ("query Q { viewer { id } } subscription S { sessionEvents { id } }", "S"),
    ],
)
def test_plain_session_events_subscriptions_are_recognised(
    documents: EventsDocuments, query: str, operation_name: str | None
) -> None:
    assert documents.find(query, operation_name) is not None


@pytest.mark.parametrize(
    "query",
    [
        "{ viewer { id } }",
        "subscription { sessionEvents { id } again: sessionEvents { type } }",  # two root fields
        "subscription($on: Boolean!) { sessionEvents @include(if: $on) { id } }",
        "subscription { sessionEvents { id ",  # a syntax error
        "subscription { sessionEvents { nope } }",  # not in the schema
        "subscription { ...F } fragment F on Subscription { sessionEvents { id } }",  # not a plain root field
        "query Q { viewer { id } } subscription S { sessionEvents { id } }",  # two operations, none named
        # the schema's own limits: depth 2, 3 aliases, the token count
        "subscription { sessionEvents { session { user { id } } } }",
        "subscription { sessionEvents { a: id b: id c: id d: id } }",
        "subscription { sessionEvents { " + "id " * 20_000 + "} }",
    ],
)
def test_anything_else_is_left_to_strawberry(documents: EventsDocuments, query: str) -> None:
    assert documents.find(query, None) is None


def test_variables_are_coerced_and_bad_ones_refused(documents: EventsDocuments) -> None:
    found = documents.find(EVENTS, None)
    assert found is not None
    arguments = documents.arguments(found, {"all": True, "after": 12})
    assert arguments is not None
    assert (arguments.all_users, arguments.after) == (True, "12")
    assert documents.arguments(found, {"all": "yes"}) is None
    assert documents.arguments(found, None) == documents.arguments(found, {})


@pytest.fixture
def server(start_server: Callable[..., LiveServer], tmp_path: Path) -> LiveServer:
    url = f"sqlite+aiosqlite:///{tmp_path / 's.db'}"
    create_user(url, "ana@acme.test")
    create_user(url, "admin@acme.test", admin=True)
    return start_server({"DATABASE_URL": url, "MAX_QUERY_ALIASES": "3"})


async def subscriptions_gauge(server: LiveServer) -> float:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        text = (await client.get("/metrics")).text
    lines = [line for line in text.splitlines() if line.startswith("active_sessions_subscriptions ")]
    return float(lines[0].split()[1])


async def send(socket: GraphQLWebSocket, message: dict[str, object]) -> None:
    await socket.connection.send(json.dumps(message))


@pytest.mark.slow
async def test_complete_stops_it_and_the_id_can_be_used_again(server: LiveServer) -> None:
    ana, _ = await login(server.base_url, "ana@acme.test", PASSWORD)
    _, phone = await login(server.base_url, "ana@acme.test", PASSWORD)
    _, tablet = await login(server.base_url, "ana@acme.test", PASSWORD)
    socket = await GraphQLWebSocket.open(server.ws_url, ana)
    await socket.acknowledged()
    query = {"query": EVENTS, "variables": {}}
    await send(socket, {"id": "a", "type": "subscribe", "payload": query})
    await asyncio.sleep(0.3)
    assert await subscriptions_gauge(server) == 1
    await send(socket, {"id": "a", "type": "complete"})
    await asyncio.sleep(0.3)
    assert await subscriptions_gauge(server) == 0
    await graphql(server.base_url, LOGOUT, {"id": phone["id"]}, token=ana)
    assert await socket.events_until_quiet(0.5) == []  # nothing after complete
    await send(socket, {"id": "a", "type": "subscribe", "payload": query})
    await asyncio.sleep(0.3)
    await graphql(server.base_url, LOGOUT, {"id": tablet["id"]}, token=ana)
    message = await socket.receive()
    assert message["id"] == "a"
    assert message["payload"]["data"]["sessionEvents"]["type"] == "ENDED"
    await socket.close()


@pytest.mark.slow
async def test_refusals_come_back_as_errors_on_an_open_socket(server: LiveServer) -> None:
    ana, _ = await login(server.base_url, "ana@acme.test", PASSWORD)
    socket = await GraphQLWebSocket.open(server.ws_url, ana)
    await socket.acknowledged()
    refused = {
        "member-scope": (EVENTS, {"all": True}, "FORBIDDEN"),
        "bad-variable": (EVENTS, {"all": "yes"}, "BAD_USER_INPUT"),
        "too-many-aliases": ("subscription { sessionEvents { a: id b: id c: id d: id } }", {}, None),
        "bad-cursor": (EVENTS, {"after": "-1"}, "BAD_USER_INPUT"),
    }
    for operation_id, (query, variables, code) in refused.items():
        await send(
            socket, {"id": operation_id, "type": "subscribe", "payload": {"query": query, "variables": variables}}
        )
        errors = []
        while True:  # Strawberry's refusals: `error`, or `next` with errors then `complete`
            message = await socket.receive()
            assert message["id"] == operation_id, message
            if message["type"] == "next":
                errors += message["payload"]["errors"]
                continue
            if message["type"] == "error":
                errors += message["payload"]
            break
        assert errors
        if code is not None:
            assert errors[0]["extensions"]["code"] == code, errors
    assert await subscriptions_gauge(server) == 0
    await send(socket, {"id": "ok", "type": "subscribe", "payload": {"query": EVENTS, "variables": {}}})
    await asyncio.sleep(0.3)
    assert await subscriptions_gauge(server) == 1  # the socket still serves
    await socket.close()


@pytest.mark.slow
async def test_the_callers_own_logout_closes_the_socket_with_4401(server: LiveServer) -> None:
    ana, session = await login(server.base_url, "ana@acme.test", PASSWORD)
    socket = await GraphQLWebSocket.open(server.ws_url, ana)
    await socket.acknowledged()
    await socket.subscribe(EVENTS)
    await asyncio.sleep(0.3)
    admin, _ = await login(server.base_url, "admin@acme.test", PASSWORD)
    await graphql(server.base_url, LOGOUT, {"id": session["id"]}, token=admin)
    assert await socket.close_code() == 4401
    await asyncio.sleep(0.3)
    assert await subscriptions_gauge(server) == 0
