"""Cross-site requests: only JSON POST runs operations, GET runs none, websockets check the Origin.

The console sends its token explicitly (Authorization header, connection_init payload) and no cookie
exists, so a cross-site page has no ambient credential to ride on; these tests keep it that way."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.hardening.conftest import GRAPHQL_TRANSPORT_WS, MEMBER_A, deploy, token_of
from tests.support.graphql_http import graphql
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.slow

CONSOLE = "https://console.example.com"
VIEWER = "{ viewer { email } }"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    deployed = deploy(tmp_path_factory.mktemp("cross-site"))
    yield deployed.start(ALLOWED_ORIGINS=CONSOLE)
    deployed.stop()


async def still_open(base_url: str, token: str) -> bool:
    body = await graphql(base_url, VIEWER, token=token)
    return "errors" not in body


@pytest.mark.parametrize(
    ("content_type", "encode"),
    [
        ("application/x-www-form-urlencoded", lambda q: f"query={q}"),
        (
            "multipart/form-data; boundary=x",
            lambda q: f'--x\r\nContent-Disposition: form-data; name="query"\r\n\r\n{q}\r\n--x--',
        ),
        ("text/plain", lambda q: json.dumps({"query": q})),
        ("text/plain; charset=application/json", lambda q: json.dumps({"query": q})),
    ],
)
async def test_simple_cross_site_posts_run_nothing(server: LiveServer, content_type: str, encode: object) -> None:
    token, _ = await token_of(server.base_url, MEMBER_A[0])
    logout = "mutation { logout { session { id } } }"
    assert callable(encode)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        answer = await client.post(
            "/graphql",
            content=encode(logout),
            headers={
                "content-type": content_type,
                "authorization": f"Bearer {token}",
                "origin": "https://evil.example",
            },
        )
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert await still_open(server.base_url, token)


async def test_get_runs_no_operation(server: LiveServer) -> None:
    token, _ = await token_of(server.base_url, MEMBER_A[0])
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        for query in ("mutation { logout { session { id } } }", VIEWER):
            answer = await client.get("/graphql", params={"query": query}, headers={"authorization": f"Bearer {token}"})
            assert answer.status_code == 405
            assert answer.headers["allow"] == "POST"
            assert answer.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    assert await still_open(server.base_url, token)


async def test_no_cors_grant_for_other_origins(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        preflight = await client.options(
            "/graphql",
            headers={
                "origin": "https://evil.example",
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization, content-type",
            },
        )
    assert "access-control-allow-origin" not in preflight.headers


async def handshake(server: LiveServer, origin: str | None, host: str | None = None) -> int:
    """The HTTP status of a websocket handshake (101 when accepted)."""
    headers = {"Origin": origin} if origin else {}
    if host:
        headers["Host"] = host
    try:
        async with connect(server.ws_url, subprotocols=[GRAPHQL_TRANSPORT_WS], additional_headers=headers) as ws:
            await ws.close()
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


async def test_websocket_handshakes_from_other_origins_are_refused(server: LiveServer) -> None:
    assert await handshake(server, "https://evil.example") == 403
    assert await handshake(server, "null") == 403
    assert await handshake(server, "https://console.example.com.evil.example") == 403
    assert await handshake(server, "http://console.example.com") == 403  # another scheme is another origin
    assert await handshake(server, CONSOLE) == 101
    assert await handshake(server, f"http://127.0.0.1:{server.port}") == 101  # same origin
    assert await handshake(server, None) == 101  # not a browser: no ambient credential to abuse


async def test_an_evil_page_cannot_open_a_socket_even_with_a_stolen_looking_token(server: LiveServer) -> None:
    token, _ = await token_of(server.base_url, MEMBER_A[0])
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            server.ws_url,
            subprotocols=[GRAPHQL_TRANSPORT_WS],
            additional_headers={"Origin": "https://evil.example"},
        ) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
    assert refused.value.response.status_code == 403
