"""Hive Gateway in front of this service and a second subgraph: queries, an entity-crossing field (User.profile,
served by the other subgraph), the caller's Authorization forwarded to this service only, and `sessionEvents`
passed through to this service over graphql-transport-ws, for clients of the gateway on SSE and websockets."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.clients.scene import log_laptop_out_from_phone, scene
from tests.conftest import PASSWORD
from tests.federation.conftest import Gateway, Subgraphs
from tests.federation.profiles_subgraph import handle_for
from tests.support.graphql_http import error_code, login
from tests.support.node import NodeScript

pytestmark = pytest.mark.slow

VIEWER = "{ viewer { id email profile { handle } } }"
SESSIONS = """query($allUsers: Boolean) {
  activeSessions(allUsers: $allUsers) { totalCount nodes { id isCurrent user { id email profile { handle } } } }
}"""
EVENTS = """subscription($after: ID) {
  sessionEvents(after: $after) { id type session { id status user { email profile { handle } } } }
}"""


async def through(gateway: Gateway, query: str, token: str | None, **variables: Any) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=15) as client:
        answer = await client.post(gateway.url, json={"query": query, "variables": variables}, headers=headers)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_queries_cross_subgraphs_with_the_callers_token(subgraphs: Subgraphs, gateway: Gateway) -> None:
    sessions = subgraphs.sessions.base_url
    ana, ana_session = await login(sessions, "ana@acme.test", PASSWORD)
    admin, _ = await login(sessions, "admin@acme.test", PASSWORD)
    ana_id, bo_id = subgraphs.user_ids["ana@acme.test"], subgraphs.user_ids["bo@acme.test"]
    await login(sessions, "bo@acme.test", PASSWORD)

    viewer = await through(gateway, VIEWER, ana)
    assert viewer == {
        "data": {"viewer": {"id": ana_id, "email": "ana@acme.test", "profile": {"handle": handle_for(ana_id)}}}
    }

    own = (await through(gateway, SESSIONS, ana))["data"]["activeSessions"]
    assert own["totalCount"] == 1
    assert own["nodes"] == [
        {
            "id": ana_session["id"],
            "isCurrent": True,
            "user": {"id": ana_id, "email": "ana@acme.test", "profile": {"handle": handle_for(ana_id)}},
        }
    ]
    everyone = (await through(gateway, SESSIONS, admin, allUsers=True))["data"]["activeSessions"]
    assert everyone["totalCount"] == 3
    assert {node["user"]["profile"]["handle"] for node in everyone["nodes"]} == {
        handle_for(user_id) for user_id in (ana_id, bo_id, subgraphs.user_ids["admin@acme.test"])
    }

    # This service's refusals reach the client with their code, through the gateway.
    assert error_code(await through(gateway, VIEWER, None)) == "UNAUTHENTICATED"
    assert error_code(await through(gateway, SESSIONS, ana, allUsers=True)) == "FORBIDDEN"
    # The token went to the sessions subgraph only.
    seen = httpx.get(f"{subgraphs.profiles.base_url}/seen-authorization", timeout=5).json()
    assert seen == []


@pytest.mark.parametrize("client", ["sse", "graphql-ws"])
async def test_session_events_pass_through_the_gateway(subgraphs: Subgraphs, gateway: Gateway, client: str) -> None:
    """The gateway subscribes to this service over graphql-transport-ws with the caller's token, adds the other
    subgraph's fields to every event, and ends the client's subscription when the session is logged out."""
    seen = await scene(subgraphs.sessions)
    url = gateway.url if client == "sse" else gateway.ws_url
    variables = json.dumps({"after": seen.cursor})
    watcher = await NodeScript.start("clients.mjs", client, url, seen.laptop_token, EVENTS, variables)
    try:
        first = await watcher.wait_for("next", timeout=8)
        assert "errors" not in first["payload"], first
        event = first["payload"]["data"]["sessionEvents"]
        ana_id = subgraphs.user_ids["ana@acme.test"]
        assert (event["type"], event["session"]["id"]) == ("CREATED", seen.phone_session)
        assert event["session"]["user"] == {"email": "ana@acme.test", "profile": {"handle": handle_for(ana_id)}}

        await log_laptop_out_from_phone(subgraphs.sessions, seen)
        # The gateway ends the subscription (an error without a message, then complete); no retry follows.
        await watcher.wait_for("complete")
        assert [m["event"] for m in watcher.messages].count("next") == 2, watcher.messages
        assert "errors" in watcher.messages[-2]["payload"], watcher.messages
        assert "connecting" not in [m["event"] for m in await watcher.messages_within(1.0)]
    finally:
        await watcher.stop()
    assert "ERROR" not in subgraphs.sessions.log()
