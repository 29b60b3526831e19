"""End to end: a real `server.py serve` (uvicorn) process, real HTTP and graphql-transport-ws clients."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from tests.conftest import PASSWORD
from tests.support.cli import create_user
from tests.support.graphql_http import DESKTOP_CHROME, IPHONE_SAFARI, WINDOWS_FIREFOX, error_code, graphql, login
from tests.support.graphql_ws import GraphQLWebSocket, open_subscriber
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.slow

LIST = """
query List($allUsers: Boolean) {
  activeSessions(allUsers: $allUsers) {
    totalCount
    nodes { id isCurrent status durationSeconds ipAddress createdAt user { email } device { type label browser os } }
  }
}
"""
LOGIN_IP = (
    'mutation { login(input: {email: "ana@acme.test", password: "PASSWORD"}) { session { ipAddress } } }'
).replace("PASSWORD", PASSWORD)
LOGOUT_SESSION = "mutation End($id: ID!) { logoutSession(id: $id) { session { id status endReason endedAt } } }"
VIEWER = "{ viewer { email isAdmin } }"


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Path:
    return tmp_path / "sessions.db"


@pytest.fixture
def server(start_server: Callable[..., LiveServer], sqlite_file: Path) -> LiveServer:
    url = f"sqlite+aiosqlite:///{sqlite_file}"
    create_user(url, "ana@acme.test")
    create_user(url, "admin@acme.test", admin=True)
    create_user(url, "bo@acme.test")
    create_user(url, "eve@other.test", admin=True, account="other")
    return start_server({"DATABASE_URL": url, "BROADCAST_URL": "memory://", "SWEEP_INTERVAL_SECONDS": "0.3"})


async def test_seed_scenario_three_devices_one_logs_another_out(server: LiveServer) -> None:
    laptop, laptop_session = await login(server.base_url, "ana@acme.test", PASSWORD, user_agent=DESKTOP_CHROME)
    phone, phone_session = await login(server.base_url, "ana@acme.test", PASSWORD, user_agent=IPHONE_SAFARI)
    _, pc_session = await login(server.base_url, "ana@acme.test", PASSWORD, user_agent=WINDOWS_FIREFOX)

    laptop_events = await open_subscriber(server.ws_url, laptop)
    phone_socket = await open_subscriber(server.ws_url, phone)

    listing = (await graphql(server.base_url, LIST, token=laptop))["data"]["activeSessions"]
    assert listing["totalCount"] == 3
    rows = {node["id"]: node for node in listing["nodes"]}
    assert [node["id"] for node in listing["nodes"]] == [pc_session["id"], phone_session["id"], laptop_session["id"]]
    assert rows[laptop_session["id"]]["device"] == {
        "type": "DESKTOP",
        "label": "Chrome 131 on macOS",
        "browser": "Chrome 131",
        "os": "macOS",
    }
    assert rows[phone_session["id"]]["device"]["type"] == "MOBILE"
    assert rows[pc_session["id"]]["device"]["label"] == "Firefox 132 on Windows"
    assert {node["ipAddress"] for node in listing["nodes"]} == {"127.0.0.1"}
    assert {node["status"] for node in listing["nodes"]} == {"ACTIVE"}
    assert all(node["durationSeconds"] >= 0 for node in listing["nodes"])
    assert [node["isCurrent"] for node in listing["nodes"]] == [False, False, True]

    started = time.monotonic()
    ended = await graphql(server.base_url, LOGOUT_SESSION, {"id": phone_session["id"]}, token=laptop)
    assert ended["data"]["logoutSession"]["session"]["status"] == "ENDED"
    assert ended["data"]["logoutSession"]["session"]["endReason"] == "REVOKED"

    assert await phone_socket.close_code(timeout=1) == 4401
    assert time.monotonic() - started < 1.5
    assert error_code(await graphql(server.base_url, VIEWER, token=phone)) == "UNAUTHENTICATED"

    event = await laptop_events.next_event()
    assert (event["type"], event["session"]["id"], event["session"]["endReason"]) == (
        "ENDED",
        phone_session["id"],
        "REVOKED",
    )

    _, tablet_session = await login(
        server.base_url, "ana@acme.test", PASSWORD, user_agent=IPHONE_SAFARI, device_name="Kitchen"
    )
    event = await laptop_events.next_event()
    assert (event["type"], event["session"]["id"]) == ("CREATED", tablet_session["id"])
    assert event["session"]["device"]["label"] == "Kitchen"
    assert event["session"]["isCurrent"] is False
    await laptop_events.close()


async def test_administrator_stream_sees_the_account_and_nothing_else(server: LiveServer) -> None:
    admin, _ = await login(server.base_url, "admin@acme.test", PASSWORD)
    member, _ = await login(server.base_url, "bo@acme.test", PASSWORD)
    other_admin, _ = await login(server.base_url, "eve@other.test", PASSWORD)
    admin_panel = await open_subscriber(server.ws_url, admin, allUsers=True)
    other_panel = await open_subscriber(server.ws_url, other_admin, allUsers=True)
    member_panel = await GraphQLWebSocket.open(server.ws_url, member)
    await member_panel.acknowledged()
    await member_panel.subscribe(variables={"allUsers": True})
    refused = await member_panel.receive()
    errors = refused["payload"]["errors"] if refused["type"] == "next" else refused["payload"]
    assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"]

    _, bo_phone = await login(server.base_url, "bo@acme.test", PASSWORD, user_agent=IPHONE_SAFARI)
    event = await admin_panel.next_event()
    assert (event["type"], event["session"]["id"], event["session"]["user"]["email"]) == (
        "CREATED",
        bo_phone["id"],
        "bo@acme.test",
    )
    ended = await graphql(server.base_url, LOGOUT_SESSION, {"id": bo_phone["id"]}, token=admin)
    assert ended["data"]["logoutSession"]["session"]["endReason"] == "REVOKED_BY_ADMIN"
    assert (await admin_panel.next_event())["type"] == "ENDED"
    assert await other_panel.events_until_quiet() == []

    foreign = await graphql(server.base_url, LOGOUT_SESSION, {"id": bo_phone["id"]}, token=other_admin)
    assert error_code(foreign) == "NOT_FOUND"
    member_list = await graphql(server.base_url, LIST, {"allUsers": True}, token=member)
    assert error_code(member_list) == "FORBIDDEN"
    for socket in (admin_panel, other_panel, member_panel):
        await socket.close()


async def test_list_then_subscribe_from_its_event_cursor_misses_nothing(server: LiveServer) -> None:
    ana, _ = await login(server.base_url, "ana@acme.test", PASSWORD)
    listing = await graphql(server.base_url, "{ activeSessions { eventCursor nodes { id } } }", token=ana)
    cursor = listing["data"]["activeSessions"]["eventCursor"]
    _, between = await login(server.base_url, "ana@acme.test", PASSWORD)  # after the list, before the subscription
    panel = await open_subscriber(server.ws_url, ana, after=cursor)
    event = await panel.next_event()
    assert (event["type"], event["session"]["id"]) == ("CREATED", between["id"])
    assert await panel.events_until_quiet() == []
    await panel.close()


async def test_resume_with_after_over_websocket_has_no_gap_and_no_duplicate(server: LiveServer) -> None:
    ana, _ = await login(server.base_url, "ana@acme.test", PASSWORD)
    panel = await open_subscriber(server.ws_url, ana)
    await login(server.base_url, "ana@acme.test", PASSWORD)
    last_seen = await panel.next_event()
    await panel.close()

    missed = [(await login(server.base_url, "ana@acme.test", PASSWORD))[1]["id"] for _ in range(3)]
    await graphql(server.base_url, LOGOUT_SESSION, {"id": missed[1]}, token=ana)
    resumed = await open_subscriber(server.ws_url, ana, after=last_seen["id"])
    replayed = [await resumed.next_event() for _ in range(4)]
    assert [(e["type"], e["session"]["id"]) for e in replayed] == [
        ("CREATED", missed[0]),
        ("CREATED", missed[1]),
        ("CREATED", missed[2]),
        ("ENDED", missed[1]),
    ]
    _, live = await login(server.base_url, "ana@acme.test", PASSWORD)
    assert (await resumed.next_event())["session"]["id"] == live["id"]
    assert await resumed.events_until_quiet() == []
    ids = [int(e["id"]) for e in replayed]
    assert ids == sorted(set(ids)) and ids[0] > int(last_seen["id"])
    await resumed.close()


async def test_concurrent_logouts_of_one_session_emit_one_ended_event(server: LiveServer) -> None:
    ana, _ = await login(server.base_url, "ana@acme.test", PASSWORD)
    admin, _ = await login(server.base_url, "admin@acme.test", PASSWORD)
    _, target = await login(server.base_url, "ana@acme.test", PASSWORD)
    panel = await open_subscriber(server.ws_url, admin, allUsers=True)
    results = await asyncio.gather(
        *(graphql(server.base_url, LOGOUT_SESSION, {"id": target["id"]}, token=t) for t in (ana, admin, ana, admin))
    )
    assert {r["data"]["logoutSession"]["session"]["endedAt"] for r in results} == {
        results[0]["data"]["logoutSession"]["session"]["endedAt"]
    }
    events = await panel.events_until_quiet(quiet=1.0)
    assert [(e["type"], e["session"]["id"]) for e in events] == [("ENDED", target["id"])]
    await panel.close()


async def test_expired_sessions_end_live_with_expired(
    start_server: Callable[..., LiveServer], sqlite_file: Path
) -> None:
    url = f"sqlite+aiosqlite:///{sqlite_file}"
    create_user(url, "ana@acme.test")
    server = start_server({"DATABASE_URL": url, "ABSOLUTE_LIFETIME_SECONDS": "3", "SWEEP_INTERVAL_SECONDS": "0.2"})
    _, doomed = await login(server.base_url, "ana@acme.test", PASSWORD)
    await asyncio.sleep(1)
    watcher, _ = await login(server.base_url, "ana@acme.test", PASSWORD)  # expires a second after `doomed`
    panel = await open_subscriber(server.ws_url, watcher)
    ended = await panel.next_event(timeout=5)
    assert (ended["type"], ended["session"]["id"]) == ("ENDED", doomed["id"])
    assert (ended["session"]["status"], ended["session"]["endReason"]) == ("ENDED", "EXPIRED")
    assert await panel.close_code(timeout=5) == 4401  # then the watcher's own session expires
    assert error_code(await graphql(server.base_url, VIEWER, token=watcher)) == "UNAUTHENTICATED"


async def test_websocket_refuses_a_bad_token_and_accepts_the_lowercase_key(server: LiveServer) -> None:
    for token in (None, "forged-token"):
        refused = await GraphQLWebSocket.open(server.ws_url, token)
        assert await refused.close_code() == 4403
    ana, _ = await login(server.base_url, "ana@acme.test", PASSWORD)
    accepted = await GraphQLWebSocket.open(server.ws_url, ana, authorization_key="authorization")
    await accepted.acknowledged()
    await accepted.close()


async def test_legacy_graphql_ws_protocol_streams_events(server: LiveServer) -> None:
    import json

    ana, _ = await login(server.base_url, "ana@acme.test", PASSWORD)
    async with connect(server.ws_url, subprotocols=["graphql-ws"]) as legacy:  # type: ignore[list-item]
        await legacy.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {ana}"}}))
        assert json.loads(await legacy.recv())["type"] == "connection_ack"
        query = "subscription { sessionEvents { id type session { id } } }"
        await legacy.send(json.dumps({"type": "start", "id": "1", "payload": {"query": query}}))
        await asyncio.sleep(0.3)
        _, phone = await login(server.base_url, "ana@acme.test", PASSWORD)
        while True:
            message = json.loads(await asyncio.wait_for(legacy.recv(), 5))
            if message["type"] == "data":
                break
        assert message["payload"]["data"]["sessionEvents"]["session"]["id"] == phone["id"]


async def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(
    start_server: Callable[..., LiveServer], sqlite_file: Path
) -> None:
    url = f"sqlite+aiosqlite:///{sqlite_file}"
    create_user(url, "ana@acme.test")
    untrusting = start_server({"DATABASE_URL": url})
    forged = await graphql(
        untrusting.base_url,
        LOGIN_IP,
        headers={"x-forwarded-for": "6.6.6.6"},
    )
    assert forged["data"]["login"]["session"]["ipAddress"] == "127.0.0.1"
    untrusting.stop()
    trusting = start_server({"DATABASE_URL": url, "TRUSTED_PROXIES": "127.0.0.1/32"})
    proxied = await graphql(
        trusting.base_url,
        LOGIN_IP,
        headers={"x-forwarded-for": "6.6.6.6, 198.51.100.23"},
    )
    assert proxied["data"]["login"]["session"]["ipAddress"] == "198.51.100.23"


async def test_the_raw_token_never_reaches_the_database_file(server: LiveServer, sqlite_file: Path) -> None:
    tokens = [(await login(server.base_url, "ana@acme.test", PASSWORD))[0] for _ in range(3)]
    await graphql(server.base_url, LOGOUT_SESSION, {"id": "x"}, token=tokens[0])
    server.stop()
    stored = b"".join(p.read_bytes() for p in sqlite_file.parent.glob("sessions.db*"))
    assert stored, "the database file exists"
    for token in tokens:
        assert token.encode() not in stored
    assert PASSWORD.encode() not in stored
    assert all(token not in server.log() for token in tokens)


async def test_errors_are_coded_and_carry_no_stack_trace(server: LiveServer) -> None:
    ana, _ = await login(server.base_url, "ana@acme.test", PASSWORD)
    assert error_code(await graphql(server.base_url, VIEWER)) == "UNAUTHENTICATED"
    wrong = await graphql(
        server.base_url, 'mutation { login(input: {email: "ana@acme.test", password: "nope"}) { token } }'
    )
    unknown = await graphql(
        server.base_url, 'mutation { login(input: {email: "who@acme.test", password: "nope"}) { token } }'
    )
    assert error_code(wrong) == error_code(unknown) == "UNAUTHENTICATED"
    assert wrong["errors"][0]["message"] == unknown["errors"][0]["message"]
    too_many = await graphql(server.base_url, "{ activeSessions(first: 101) { totalCount } }", token=ana)
    assert error_code(too_many) == "BAD_USER_INPUT"
    for body in (wrong, too_many):
        assert "Traceback" not in str(body) and "stacktrace" not in str(body)
