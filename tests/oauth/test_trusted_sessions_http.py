"""`POST /api/sessions` against a real server, with clients made by the CLI: a trusted backend starts 100
sessions for new external ids and each token then works everywhere (GraphQL, live events, introspection,
logout and its 4401); every refusal is coded and changes nothing. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD
from tests.oauth.conftest import OAuthService
from tests.oauth.test_introspection import read_rows
from tests.support.cli import server_command
from tests.support.graphql_http import LOGIN, error_code, graphql, login
from tests.support.graphql_ws import GraphQLWebSocket, open_subscriber

pytestmark = pytest.mark.slow

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"
MINE = (
    "{ viewer { id externalId email } activeSessions { edges { node { id isCurrent ipAddress device { label } } } } }"
)
LOGOUT = "mutation($id: ID!) { logoutSession(id: $id) { session { id status } } }"


def sessions_url(service: OAuthService) -> str:
    return f"{service.server.base_url}/api/sessions"


async def start(
    http: httpx.AsyncClient, service: OAuthService, client: tuple[str, str] | None, body: Any, **options: Any
) -> httpx.Response:
    if client is None:
        return await http.post(sessions_url(service), json=body, **options)
    return await http.post(sessions_url(service), json=body, auth=client, **options)


def request_for(external_id: str, **overrides: Any) -> dict[str, Any]:
    return {"external_id": external_id, "user_agent": FIREFOX, "ip_address": "203.0.113.9"} | overrides


async def user_count(service: OAuthService) -> int:
    return int(str((await read_rows(service.database_url, 'SELECT count(*) FROM "user"'))[0][0]))


async def test_a_trusted_backend_starts_100_sessions_whose_tokens_work_everywhere(
    oauth_service: Callable[..., OAuthService],
) -> None:
    service = oauth_service()
    backend = service.client("acme login", "--account", "acme", "--permission", "sessions:write")
    gateway = service.client("gateway")
    admin, _ = await login(service.server.base_url, "admin@acme.test", PASSWORD)
    watcher = await open_subscriber(service.server.ws_url, admin, allUsers=True)
    limit = asyncio.Semaphore(10)

    async def start_one(http: httpx.AsyncClient, n: int) -> dict[str, Any]:
        async with limit:
            body = request_for(f"crm-{n}", email=f"user{n}@crm.test" if n % 2 else None, device_name=f"Till {n}")
            response = await start(http, service, backend, body)
        assert response.status_code == 201, response.text
        assert response.headers["cache-control"] == "no-store"
        created: dict[str, Any] = response.json()
        return created

    async with httpx.AsyncClient(timeout=30) as http:
        started = await asyncio.gather(*(start_one(http, n) for n in range(100)))

    assert len({item["token"] for item in started}) == 100
    for n, item in enumerate(started):
        session = item["session"]
        assert session["user"]["external_id"] == f"crm-{n}" and session["status"] == "ACTIVE"
        assert session["device"]["label"] == f"Till {n}" and session["ip_address"] == "203.0.113.9"
        email = session["user"]["email"]
        if n % 2:
            assert email == f"user{n}@crm.test"
        else:
            assert email.endswith("@external.invalid")  # none given: a placeholder no mail reaches
    created_ids = {
        event["session"]["id"] for event in await watcher.events_until_quiet(1.5) if event["type"] == "CREATED"
    }
    assert created_ids == {item["session"]["id"] for item in started}  # live events, as for a login

    async def works_everywhere(item: dict[str, Any]) -> None:
        token, session = item["token"], item["session"]
        mine = await graphql(service.server.base_url, MINE, token=token)
        assert "errors" not in mine, mine
        assert mine["data"]["viewer"]["externalId"] == session["user"]["external_id"]
        nodes = [edge["node"] for edge in mine["data"]["activeSessions"]["edges"]]
        assert [node["id"] for node in nodes if node["isCurrent"]] == [session["id"]]
        answer = (await service.introspect(token, gateway)).json()
        assert answer["active"] is True and answer["sid"] == session["id"] and answer["sub"] == session["user"]["id"]

    for item in started[:20]:
        await works_everywhere(item)

    # A second session for a known external id is the same user; logout (its own, and an admin's) ends it at once.
    async with httpx.AsyncClient(timeout=30) as http:
        again = (await start(http, service, backend, request_for("crm-0"))).json()
    assert again["session"]["user"]["id"] == started[0]["session"]["user"]["id"]
    socket = await GraphQLWebSocket.open(service.server.ws_url, again["token"])
    await socket.acknowledged()
    ended = await graphql(service.server.base_url, LOGOUT, {"id": again["session"]["id"]}, token=admin)
    assert ended["data"]["logoutSession"]["session"]["status"] == "ENDED", ended
    assert await socket.close_code() == 4401
    assert (await service.introspect(again["token"], gateway)).json() == {"active": False}
    own = await graphql(service.server.base_url, LOGOUT, {"id": started[1]["session"]["id"]}, token=started[1]["token"])
    assert own["data"]["logoutSession"]["session"]["status"] == "ENDED", own
    assert error_code(await graphql(service.server.base_url, MINE, token=started[1]["token"])) == "UNAUTHENTICATED"
    await watcher.close()


async def test_refusals_are_coded_and_change_nothing(oauth_service: Callable[..., OAuthService]) -> None:
    service = oauth_service()
    backend = service.client("acme login", "--account", "acme", "--permission", "sessions:write")
    reader = service.client("acme reader", "--account", "acme")
    fleet = service.client("fleet writer", "--permission", "sessions:write")  # bound to no account
    before = await user_count(service)

    async with httpx.AsyncClient(timeout=15) as http:
        cases: list[tuple[httpx.Response, int, str]] = [
            (await start(http, service, None, request_for("x")), 401, "UNAUTHENTICATED"),
            (await start(http, service, (backend[0], "wrong"), request_for("x")), 401, "UNAUTHENTICATED"),
            (await start(http, service, reader, request_for("x")), 403, "FORBIDDEN"),
            (await start(http, service, fleet, request_for("x")), 403, "FORBIDDEN"),
            (
                await start(http, service, backend, {"user_agent": FIREFOX, "ip_address": "1.2.3.4"}),
                400,
                "BAD_USER_INPUT",
            ),
            (await start(http, service, backend, request_for("")), 400, "BAD_USER_INPUT"),
            (await start(http, service, backend, request_for("x" * 201)), 400, "BAD_USER_INPUT"),
            (await start(http, service, backend, request_for("x", ip_address="10.0.0.300")), 400, "BAD_USER_INPUT"),
            (await start(http, service, backend, request_for("x", ip_address="example.com")), 400, "BAD_USER_INPUT"),
            (await start(http, service, backend, request_for("x", user_agent="u" * 5000)), 400, "BAD_USER_INPUT"),
            (await start(http, service, backend, request_for("x", device_name="d" * 500)), 400, "BAD_USER_INPUT"),
            (await start(http, service, backend, request_for("x", email="not-an-email")), 400, "BAD_USER_INPUT"),
            (await start(http, service, backend, request_for("x", ip_address=7)), 400, "BAD_USER_INPUT"),
            (await start(http, service, backend, request_for("x", admin=True)), 400, "BAD_USER_INPUT"),
            (await start(http, service, backend, ["x"]), 400, "BAD_USER_INPUT"),
            (
                await http.post(
                    sessions_url(service), content=b"{nope", auth=backend, headers={"content-type": "application/json"}
                ),
                400,
                "BAD_USER_INPUT",
            ),
            (
                await http.post(sessions_url(service), data={"external_id": "x"}, auth=backend),
                415,
                "UNSUPPORTED_MEDIA_TYPE",
            ),
            (  # the email of a user who signs in with a password is not taken over
                await start(http, service, backend, request_for("x", email="ana@acme.test")),
                400,
                "BAD_USER_INPUT",
            ),
        ]
    for response, status, code in cases:
        assert response.status_code == status, response.text
        body = response.json()
        assert body["errors"][0]["extensions"]["code"] == code, body
        assert body["errors"][0]["message"] and "Traceback" not in response.text
    assert cases[0][0].headers["www-authenticate"].startswith("Basic")
    assert await user_count(service) == before
    assert not await read_rows(service.database_url, "SELECT id FROM login_session")


async def test_an_account_without_password_login_still_takes_trusted_sessions(
    oauth_service: Callable[..., OAuthService],
) -> None:
    service = oauth_service()
    backend = service.client("acme login", "--account", "acme", "--permission", "sessions:write")
    turned_off = server_command(service.database_url, "set-account", "acme", "--password-login", "off")
    assert turned_off.returncode == 0, turned_off.stderr
    refused = await graphql(service.server.base_url, LOGIN, {"email": "ana@acme.test", "password": PASSWORD})
    assert error_code(refused) == "FORBIDDEN", refused
    async with httpx.AsyncClient(timeout=15) as http:
        response = await start(http, service, backend, request_for("ana-in-crm"))
    assert response.status_code == 201, response.text
    mine = await graphql(service.server.base_url, MINE, token=response.json()["token"])
    assert mine["data"]["viewer"]["externalId"] == "ana-in-crm", mine
