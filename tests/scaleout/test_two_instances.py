"""Two real instances behind no sticky load balancer: what happens on A is seen, and enforced, on B."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import asyncpg
import pytest

from tests.scaleout.conftest import Fleet
from tests.support.cli import PASSWORD
from tests.support.graphql_http import IPHONE_SAFARI, error_code, graphql, login
from tests.support.graphql_ws import open_subscriber
from tests.support.live_server import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

LOGOUT_SESSION = "mutation End($id: ID!) { logoutSession(id: $id) { session { id endedAt endReason } } }"
VIEWER = "{ viewer { email } }"


async def count_events(database_url: str, kind: str, session_id: str | None = None) -> int:
    connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        query = "SELECT count(*) FROM session_event WHERE type = $1"
        if session_id is None:
            return int(await connection.fetchval(query, kind))
        return int(await connection.fetchval(query + " AND session_id = $2", kind, session_id))
    finally:
        await connection.close()


async def test_a_login_on_a_appears_live_on_b(fleet: Fleet) -> None:
    ana, _ = await login(fleet.b.base_url, "ana@acme.test", PASSWORD)
    panel = await open_subscriber(fleet.b.ws_url, ana)
    _, phone = await login(fleet.a.base_url, "ana@acme.test", PASSWORD, user_agent=IPHONE_SAFARI)
    event = await panel.next_event(timeout=3)
    assert (event["type"], event["session"]["id"]) == ("CREATED", phone["id"])
    await panel.close()


async def test_a_logout_on_a_is_enforced_on_b_at_once(fleet: Fleet) -> None:
    laptop, _ = await login(fleet.a.base_url, "ana@acme.test", PASSWORD)
    phone, phone_session = await login(fleet.b.base_url, "ana@acme.test", PASSWORD, user_agent=IPHONE_SAFARI)
    phone_socket = await open_subscriber(fleet.b.ws_url, phone)
    assert "errors" not in await graphql(fleet.b.base_url, VIEWER, token=phone)

    started = time.monotonic()
    await graphql(fleet.a.base_url, LOGOUT_SESSION, {"id": phone_session["id"]}, token=laptop)
    assert error_code(await graphql(fleet.b.base_url, VIEWER, token=phone)) == "UNAUTHENTICATED"
    assert await phone_socket.close_code(timeout=1) == 4401
    assert time.monotonic() - started < 1.0


async def test_an_administrator_panel_on_b_sees_every_change_made_on_a(fleet: Fleet) -> None:
    admin, _ = await login(fleet.b.base_url, "admin@acme.test", PASSWORD)
    panel = await open_subscriber(fleet.b.ws_url, admin, allUsers=True)
    bo, bo_session = await login(fleet.a.base_url, "bo@acme.test", PASSWORD)
    ana, ana_session = await login(fleet.a.base_url, "ana@acme.test", PASSWORD)
    await graphql(fleet.a.base_url, "mutation { logout { session { id } } }", token=bo)
    _, extra = await login(fleet.a.base_url, "ana@acme.test", PASSWORD)
    await graphql(fleet.a.base_url, LOGOUT_SESSION, {"id": extra["id"]}, token=ana)
    expected = [
        ("CREATED", bo_session["id"]),
        ("CREATED", ana_session["id"]),
        ("ENDED", bo_session["id"]),
        ("CREATED", extra["id"]),
        ("ENDED", extra["id"]),
    ]
    received = [await panel.next_event(timeout=3) for _ in expected]
    assert [(e["type"], e["session"]["id"]) for e in received] == expected
    assert await panel.events_until_quiet() == []
    await panel.close()


async def test_concurrent_logouts_through_a_and_b_emit_one_ended_event(fleet: Fleet) -> None:
    on_a, _ = await login(fleet.a.base_url, "ana@acme.test", PASSWORD)
    on_b, _ = await login(fleet.b.base_url, "ana@acme.test", PASSWORD)
    _, target = await login(fleet.a.base_url, "ana@acme.test", PASSWORD)
    calls = [
        graphql(server.base_url, LOGOUT_SESSION, {"id": target["id"]}, token=token)
        for server, token in [(fleet.a, on_a), (fleet.b, on_b)] * 3
    ]
    results = await asyncio.gather(*calls)
    ended_at = {r["data"]["logoutSession"]["session"]["endedAt"] for r in results}
    assert len(ended_at) == 1
    assert await count_events(fleet.database_url, "ENDED", target["id"]) == 1


async def test_expiry_sweeps_on_both_instances_end_each_session_once(
    shared_database: str, start_server: Callable[..., LiveServer]
) -> None:
    env = {
        "DATABASE_URL": shared_database,
        "BROADCAST_URL": "redis://127.0.0.1:6379/0",
        "CHANNEL_PREFIX": "test-expiry",
        "ABSOLUTE_LIFETIME_SECONDS": "2",
        "SWEEP_INTERVAL_SECONDS": "0.1",
    }
    a, b = start_server(env), start_server(env)
    sessions = [(await login(server.base_url, "ana@acme.test", PASSWORD))[1]["id"] for server in (a, b, a, b, a, b)]
    await asyncio.sleep(3.5)
    for session_id in sessions:
        assert await count_events(shared_database, "ENDED", session_id) == 1
    assert await count_events(shared_database, "ENDED") == len(sessions)


async def test_subscribers_of_a_killed_instance_resume_on_the_other_and_miss_nothing(fleet: Fleet) -> None:
    ana, _ = await login(fleet.a.base_url, "ana@acme.test", PASSWORD)
    panel = await open_subscriber(fleet.b.ws_url, ana)
    await login(fleet.a.base_url, "ana@acme.test", PASSWORD)
    last = await panel.next_event(timeout=3)

    fleet.b.kill()  # SIGKILL: no goodbye, no drain
    assert await panel.close_code(timeout=3) in (None, 1006, 1011, 1012)
    missed = [(await login(fleet.a.base_url, "ana@acme.test", PASSWORD))[1]["id"] for _ in range(3)]

    resumed = await open_subscriber(fleet.a.ws_url, ana, after=last["id"])
    replayed = [await resumed.next_event(timeout=3) for _ in missed]
    assert [e["session"]["id"] for e in replayed] == missed
    _, live = await login(fleet.a.base_url, "ana@acme.test", PASSWORD)
    assert (await resumed.next_event(timeout=3))["session"]["id"] == live["id"]
    assert await resumed.events_until_quiet() == []
    await resumed.close()
