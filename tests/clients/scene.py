"""The scene every client test plays: Ana watches from a laptop; her phone logs in, then logs the laptop out."""

from __future__ import annotations

from dataclasses import dataclass

from tests.conftest import PASSWORD
from tests.support.graphql_http import IPHONE_SAFARI, graphql, login
from tests.support.live_server import LiveServer

SUBSCRIPTION = "subscription($after: ID) { sessionEvents(after: $after) { id type session { id status } } }"
LOGOUT_SESSION = "mutation($id: ID!) { logoutSession(id: $id) { session { status } } }"


@dataclass(frozen=True)
class Scene:
    """Ana's laptop (the watcher) and her phone, which logged in after the laptop read its event cursor: a
    subscription from `cursor` therefore starts with the phone's CREATED event, with no timing involved."""

    laptop_token: str
    laptop_session: str
    phone_token: str
    phone_session: str
    cursor: str


async def scene(server: LiveServer) -> Scene:
    laptop_token, laptop = await login(server.base_url, "ana@acme.test", PASSWORD)
    listing = await graphql(server.base_url, "{ activeSessions { eventCursor } }", token=laptop_token)
    cursor = listing["data"]["activeSessions"]["eventCursor"]
    phone_token, phone = await login(server.base_url, "ana@acme.test", PASSWORD, user_agent=IPHONE_SAFARI)
    return Scene(laptop_token, laptop["id"], phone_token, phone["id"], cursor)


async def log_laptop_out_from_phone(server: LiveServer, scene: Scene) -> None:
    ended = await graphql(server.base_url, LOGOUT_SESSION, {"id": scene.laptop_session}, token=scene.phone_token)
    assert ended["data"]["logoutSession"]["session"]["status"] == "ENDED", ended
