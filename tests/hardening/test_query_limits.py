"""Query limits: tokens, depth, aliases, body size, operations per socket and sockets per session."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from strawberry.extensions.validation_cache import _get_validate_cache
from websockets.exceptions import ConnectionClosed

from tests.hardening.conftest import MEMBER_A, Deployment, schema_for, token_of
from tests.support.graphql_ws import GraphQLWebSocket

pytestmark = pytest.mark.asyncio

SESSIONS = "{ activeSessions { nodes { id device { label } user { email } } } }"


def aliases(count: int) -> str:
    return "{ " + " ".join(f"a{i}: viewer {{ email }}" for i in range(count)) + " }"


async def test_a_document_over_the_token_limit_is_a_parse_failure() -> None:
    schema = schema_for(max_query_tokens=200)
    result = await schema.execute("{ " + "viewer { email } " * 60 + "}")
    assert result.errors and result.errors[0].extensions == {"code": "GRAPHQL_PARSE_FAILED"}
    assert "tokens" in result.errors[0].message


async def test_aliases_over_the_limit_are_refused_before_execution() -> None:
    schema = schema_for(max_query_aliases=3)
    executed = await schema.execute(aliases(3))  # reaches the resolvers (which fail here: there is no context)
    assert executed.errors and executed.errors[0].path == ["a0"]
    refused = await schema.execute(aliases(4))
    assert refused.errors and refused.errors[0].extensions == {"code": "GRAPHQL_VALIDATION_FAILED"}


async def test_depth_over_the_limit_is_refused_and_introspection_fields_do_not_count() -> None:
    schema = schema_for(max_query_depth=2)
    refused = await schema.execute(SESSIONS)
    assert refused.errors and refused.errors[0].extensions == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert "depth" in refused.errors[0].message
    introspection = await schema.execute("{ __schema { types { fields { type { ofType { ofType { name } } } } } } }")
    assert introspection.errors is None


async def test_the_validation_cache_still_hits_with_the_limits_on() -> None:
    schema = schema_for()
    cache: Any = _get_validate_cache(128)  # the functools LRU cache ValidationCache() uses
    await schema.execute("{ viewer { id } }")
    hits = cache.cache_info().hits
    for _ in range(3):
        await schema.execute("{ viewer { id } }")
    assert cache.cache_info().hits == hits + 3


async def raw_post(port: int, headers: list[str], chunks: list[bytes]) -> bytes:
    """A POST written by hand, to send a lying Content-Length or a chunked body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = "\r\n".join(["POST /graphql HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json", *headers])
    writer.write(head.encode() + b"\r\n\r\n")
    try:
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
    except ConnectionError:
        pass
    answer = await asyncio.wait_for(reader.read(), 10)  # the server closes after a refusal
    writer.close()
    return answer


@pytest.fixture
def limited(deployment: Deployment) -> Deployment:
    deployment.start(MAX_REQUEST_BYTES="4096", MAX_SUBSCRIPTIONS_PER_CONNECTION="2", MAX_SOCKETS_PER_SESSION="2")
    return deployment


@pytest.mark.slow
async def test_bodies_over_the_limit_get_413_before_parsing(limited: Deployment) -> None:
    server = limited.servers[0]
    padding = " " * 5000
    big = json.dumps({"query": "{ viewer { id } }" + padding}).encode()
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        declared = await client.post("/graphql", content=big, headers={"content-type": "application/json"})

        async def stream() -> AsyncIterator[bytes]:  # chunked: no Content-Length to check
            for start in range(0, len(big), 1000):
                yield big[start : start + 1000]

        streamed = await client.post("/graphql", content=stream(), headers={"content-type": "application/json"})
        small = await client.post("/graphql", json={"query": "{ viewer { id } }"})
    for answer in (declared, streamed):
        assert answer.status_code == 413
        assert answer.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert small.status_code == 200
    # A client announcing a huge body is answered at once, without the server waiting for (or reading) it.
    raw = await raw_post(server.port, ["Content-Length: 1000000000"], [b"{"])
    assert raw.startswith(b"HTTP/1.1 413")
    assert b"PAYLOAD_TOO_LARGE" in raw


@pytest.mark.slow
async def test_operations_per_socket_and_sockets_per_session_are_capped(limited: Deployment) -> None:
    server = limited.servers[0]
    token, _ = await token_of(server.base_url, MEMBER_A[0])
    first = await GraphQLWebSocket.open(server.ws_url, token)
    await first.acknowledged()
    await first.subscribe()
    await first.subscribe()
    await first.subscribe()
    refused = await first.receive()
    assert refused["type"] == "error" and refused["id"] == "3"
    assert refused["payload"][0]["extensions"]["code"] == "TOO_MANY_OPERATIONS"

    second = await GraphQLWebSocket.open(server.ws_url, token)
    await second.acknowledged()
    third = await GraphQLWebSocket.open(server.ws_url, token)
    assert await third.close_code() == 4403  # retryable for graphql-ws clients: a tab may close meanwhile
    await second.close()
    await asyncio.sleep(0.2)
    fourth = await GraphQLWebSocket.open(server.ws_url, token)
    await fourth.acknowledged()  # a slot came free
    for client in (first, fourth):
        await client.close()


@pytest.mark.slow
async def test_concurrent_handshakes_of_one_session_cannot_exceed_the_cap(limited: Deployment) -> None:
    server = limited.servers[0]
    token, _ = await token_of(server.base_url, MEMBER_A[0])
    clients = await asyncio.gather(*(GraphQLWebSocket.open(server.ws_url, token) for _ in range(8)))

    async def outcome(client: GraphQLWebSocket) -> str | int | None:
        try:
            return str((await client.receive())["type"])
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None

    results = await asyncio.gather(*(outcome(c) for c in clients))
    assert sorted(results, key=str) == [4403] * 6 + ["connection_ack"] * 2
    for client in clients:
        await client.close()
