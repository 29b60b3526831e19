"""Account security on two real instances: a password change on A closes another device's socket on B."""

from __future__ import annotations

import pytest

from tests.scaleout.conftest import Fleet
from tests.support.cli import PASSWORD
from tests.support.graphql_http import IPHONE_SAFARI, error_code, graphql, login
from tests.support.graphql_ws import open_subscriber

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

CHANGE = """mutation($current: String!, $new: String!) {
  changePassword(input: {currentPassword: $current, newPassword: $new}) { endedSessions { id endReason } }
}"""
VIEWER = "{ viewer { email } }"


async def test_a_password_change_on_a_closes_the_other_devices_socket_on_b(fleet: Fleet) -> None:
    laptop, _ = await login(fleet.a.base_url, "ana@acme.test", PASSWORD)
    phone, phone_session = await login(fleet.b.base_url, "ana@acme.test", PASSWORD, user_agent=IPHONE_SAFARI)
    phone_socket = await open_subscriber(fleet.b.ws_url, phone)
    laptop_socket = await open_subscriber(fleet.a.ws_url, laptop)

    body = await graphql(
        fleet.a.base_url, CHANGE, {"current": PASSWORD, "new": "plum tractor velvet lagoon"}, token=laptop
    )
    assert body["data"]["changePassword"]["endedSessions"] == [
        {"id": phone_session["id"], "endReason": "PASSWORD_CHANGED"}
    ]
    assert await phone_socket.close_code(timeout=2) == 4401
    assert error_code(await graphql(fleet.b.base_url, VIEWER, token=phone)) == "UNAUTHENTICATED"
    assert "errors" not in await graphql(fleet.a.base_url, VIEWER, token=laptop)
    event = await laptop_socket.next_event()
    assert (event["type"], event["session"]["id"], event["session"]["endReason"]) == (
        "ENDED",
        phone_session["id"],
        "PASSWORD_CHANGED",
    )
    await laptop_socket.close()
