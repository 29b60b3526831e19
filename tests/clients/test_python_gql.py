"""The Python `gql` client (httpx and websockets transports) against a real server: queries over HTTP with the
Authorization header, subscriptions over websockets with the token in the connection_init payload."""

from __future__ import annotations

import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportConnectionFailed, TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport
from websockets.exceptions import ConnectionClosed

from tests.clients.scene import LOGOUT_SESSION, SUBSCRIPTION, scene
from tests.conftest import PASSWORD
from tests.support.graphql_http import login
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.slow

VIEWER = GraphQLRequest("{ viewer { email isAdmin } activeSessions { totalCount nodes { isCurrent } } }")


def http_transport(server: LiveServer, token: str | None) -> HTTPXAsyncTransport:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return HTTPXAsyncTransport(url=f"{server.base_url}/graphql", headers=headers, timeout=15)


async def test_query_over_http(server: LiveServer) -> None:
    token, _ = await login(server.base_url, "ana@acme.test", PASSWORD)
    async with Client(transport=http_transport(server, token)) as session:
        answer = await session.execute(VIEWER)
    assert answer["viewer"] == {"email": "ana@acme.test", "isAdmin": False}
    assert answer["activeSessions"] == {"totalCount": 1, "nodes": [{"isCurrent": True}]}

    async with Client(transport=http_transport(server, None)) as session:
        with pytest.raises(TransportQueryError) as refused:
            await session.execute(VIEWER)
    assert refused.value.errors is not None
    assert refused.value.errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    "subprotocol", [WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL, WebsocketsTransport.APOLLO_SUBPROTOCOL]
)
async def test_subscription_over_websockets_with_init_payload(server: LiveServer, subprotocol: str) -> None:
    """graphql-transport-ws and the legacy graphql-ws subprotocol: an event, then close 4401 at logout."""
    seen = await scene(server)
    transport = WebsocketsTransport(
        url=server.ws_url, init_payload={"Authorization": f"Bearer {seen.laptop_token}"}, subprotocols=[subprotocol]
    )
    events = []
    async with Client(transport=transport) as session:
        assert transport.subprotocol == subprotocol
        request = GraphQLRequest(SUBSCRIPTION, variable_values={"after": seen.cursor})
        with pytest.raises(TransportConnectionFailed) as closed:
            async for result in session.subscribe(request):
                events.append(result["sessionEvents"])
                async with Client(transport=http_transport(server, seen.phone_token)) as phone:
                    logout = GraphQLRequest(LOGOUT_SESSION, variable_values={"id": seen.laptop_session})
                    await phone.execute(logout)
    assert [(e["type"], e["session"]["id"]) for e in events] == [("CREATED", seen.phone_session)]
    cause = closed.value.__cause__
    assert isinstance(cause, ConnectionClosed) and cause.rcvd is not None
    assert (cause.rcvd.code, cause.rcvd.reason) == (4401, "Session ended")
