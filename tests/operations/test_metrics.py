"""/metrics after a scripted scenario: every counter matches what the scenario did."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.support.cli import PASSWORD, create_user
from tests.support.graphql_http import graphql, login
from tests.support.graphql_ws import GraphQLWebSocket
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.slow

LOGOUT_SESSION = "mutation End($id: ID!) { logoutSession(id: $id) { session { id } } }"


def sample(text: str, name: str, labels: str = "") -> float:
    pattern = re.escape(name) + (re.escape("{" + labels + "}") if labels else "") + r" ([0-9.e+-]+)\n"
    found = re.search(pattern, text)
    assert found, f"{name}{{{labels}}} missing from /metrics"
    return float(found.group(1))


async def scrape(server: LiveServer, token: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient() as client:
        return await client.get(server.base_url + "/metrics", headers=headers)


async def test_counters_match_a_scripted_scenario(tmp_path: Path, start_server: Callable[..., LiveServer]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 's.db'}"
    create_user(url, "admin@acme.test", admin=True)
    create_user(url, "bo@acme.test")
    server = start_server({"DATABASE_URL": url})

    # Scenario: 4 logins; an admin panel subscribed; one revocation of an open socket by the admin;
    # one own logout; one "log out other sessions" that ends one more.
    admin, _ = await login(server.base_url, "admin@acme.test", PASSWORD)
    panel = await GraphQLWebSocket.open(server.ws_url, admin)
    await panel.acknowledged()
    await panel.subscribe(variables={"allUsers": True})
    await asyncio.sleep(0.3)
    bo_phone, bo_phone_session = await login(server.base_url, "bo@acme.test", PASSWORD)
    bo_laptop, _ = await login(server.base_url, "bo@acme.test", PASSWORD)
    _, bo_tablet = await login(server.base_url, "bo@acme.test", PASSWORD)
    phone_socket = await GraphQLWebSocket.open(server.ws_url, bo_phone)
    await phone_socket.acknowledged()

    await graphql(server.base_url, LOGOUT_SESSION, {"id": bo_phone_session["id"]}, token=admin)
    assert await phone_socket.close_code(timeout=2) == 4401
    await graphql(server.base_url, "mutation { logoutOtherSessions { sessions { id } } }", token=bo_laptop)
    await graphql(server.base_url, "mutation { logout { session { id } } }", token=bo_laptop)
    delivered = await panel.events_until_quiet(quiet=1.0)
    assert len(delivered) == 6  # 3 CREATED (bo) + 3 ENDED

    text = (await scrape(server)).text
    assert sample(text, "active_sessions_sessions_created_total") == 4
    assert sample(text, "active_sessions_sessions_ended_total", 'reason="REVOKED_BY_ADMIN"') == 1
    assert sample(text, "active_sessions_sessions_ended_total", 'reason="REVOKED"') == 1  # the tablet
    assert sample(text, "active_sessions_sessions_ended_total", 'reason="LOGGED_OUT"') == 1
    assert sample(text, "active_sessions_events_published_total", 'type="CREATED"') == 4
    assert sample(text, "active_sessions_events_published_total", 'type="ENDED"') == 3
    assert sample(text, "active_sessions_events_delivered_total") == 6
    assert sample(text, "active_sessions_websocket_connections") == 1  # the panel; the phone's socket closed
    assert sample(text, "active_sessions_subscriptions") == 1
    assert sample(text, "active_sessions_revocation_close_seconds_count") == 1
    assert sample(text, "active_sessions_request_seconds_count", 'operation_type="mutation"') == 7
    assert sample(text, "active_sessions_bus_reconnects_total") == 0
    assert bo_tablet["id"] not in text and admin not in text

    await panel.close()
    await asyncio.sleep(0.3)
    after_close = (await scrape(server)).text
    assert sample(after_close, "active_sessions_websocket_connections") == 0
    assert sample(after_close, "active_sessions_subscriptions") == 0


async def test_metrics_are_off_or_protected_in_production(
    tmp_path: Path, start_server: Callable[..., LiveServer]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 's.db'}"
    closed = start_server({"DATABASE_URL": url, "ENVIRONMENT": "production"})
    assert (await scrape(closed)).status_code == 404
    closed.stop()
    protected = start_server({"DATABASE_URL": url, "ENVIRONMENT": "production", "METRICS_TOKEN": "scrape-secret"})
    assert (await scrape(protected)).status_code == 401
    assert (await scrape(protected, "wrong")).status_code == 401
    allowed = await scrape(protected, "scrape-secret")
    assert allowed.status_code == 200 and "active_sessions_sessions_created_total" in allowed.text
