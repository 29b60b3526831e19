"""Where a websocket's token may come from: the connection_init payload (browsers, graphql-ws clients, Hive
Gateway), or, when the payload names none, the handshake's Authorization header (gateways that propagate the
caller's headers to the subgraph's websocket). Browsers cannot set that header, so it opens no cross-site hole."""

from __future__ import annotations

import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from schema.context import Context
from server import Runtime
from tests.conftest import PASSWORD
from tests.support.graphql_http import login
from tests.support.live_server import LiveServer

TRANSPORT = Subprotocol("graphql-transport-ws")


def socket_context(runtime: Runtime, header: str | None, payload: object) -> Context:
    context = Context(
        services=runtime.services, client_ip="198.51.100.7", user_agent=None, authorization=header, is_websocket=True
    )
    context.connection_params = payload
    return context


SOURCES: list[tuple[str | None, object, str | None]] = [  # handshake header, connection_init payload, token
    (None, {"Authorization": "Bearer from-payload"}, "from-payload"),
    (None, {"authorization": "Bearer from-payload"}, "from-payload"),
    ("Bearer from-header", {}, "from-header"),
    ("Bearer from-header", {"other": "value"}, "from-header"),
    ("Bearer from-header", {"Authorization": "Bearer from-payload"}, "from-payload"),
    ("Bearer from-header", {"Authorization": 42}, None),  # a payload that names a token is the only source
    ("Bearer from-header", {"authorization": None}, None),
    (None, {}, None),
]


def test_payload_first_then_the_handshake_header(runtime: Runtime) -> None:
    for header, payload, token in SOURCES:
        assert socket_context(runtime, header, payload).token == token, (header, payload)


@pytest.mark.slow
async def test_a_gateway_style_handshake_header_authenticates_the_socket(sessions_subgraph: LiveServer) -> None:
    token, _ = await login(sessions_subgraph.base_url, "ana@acme.test", PASSWORD)
    headers = {"Authorization": f"Bearer {token}"}
    async with connect(sessions_subgraph.ws_url, subprotocols=[TRANSPORT], additional_headers=headers) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
    async with connect(sessions_subgraph.ws_url, subprotocols=[TRANSPORT], additional_headers=headers) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer forged"}}))
        with pytest.raises(ConnectionClosed) as refused:
            await ws.recv()
    assert refused.value.rcvd is not None and refused.value.rcvd.code == 4403
