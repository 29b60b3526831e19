"""Fan-out correctness: panels of different scopes and accounts each receive exactly the events they may see,
in commit order, with no gap and no duplicate — on one instance, and with the panels and the writers spread
over two instances sharing PostgreSQL and Redis.

Every panel subscribes with `after: "0"`, so it first replays the account's history in its scope and then
goes live: the expected stream is known exactly whatever the moment its subscription attached."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from core.database import Database, create_engine, migrate_to_latest
from services.accounts import create_user
from tests.support.databases import fresh_postgres_database, sqlite_url
from tests.support.graphql_http import graphql, login
from tests.support.graphql_ws import GraphQLWebSocket
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"
REDIS_URL = "redis://127.0.0.1:6379/0"
LOGOUT_SESSION = "mutation End($id: ID!) { logoutSession(id: $id) { session { id status } } }"
LOGOUT = "mutation { logout { session { id status } } }"
LOGOUT_OTHERS = "mutation { logoutOtherSessions { sessions { id } } }"
PEOPLE = {  # email -> (account, administrator)
    "root@acme.test": ("acme", True),
    "deputy@acme.test": ("acme", True),
    "ana@acme.test": ("acme", False),
    "bo@acme.test": ("acme", False),
    "eve@other.test": ("other", True),
    "finn@other.test": ("other", False),
}


@dataclass(frozen=True)
class Event:
    type: str
    session_id: str
    email: str

    @property
    def account(self) -> str:
        return PEOPLE[self.email][0]


@dataclass
class Panel:
    name: str
    email: str
    all_users: bool
    socket: GraphQLWebSocket

    def may_see(self, event: Event) -> bool:
        return event.account == PEOPLE[self.email][0] and (self.all_users or event.email == self.email)


class World:
    """Drives the service over HTTP and keeps the commit-ordered log of every event it must have emitted."""

    def __init__(self, servers: list[LiveServer]) -> None:
        self.servers = servers
        self.log: list[Event] = []
        self._turn = 0

    def next_server(self) -> LiveServer:
        self._turn += 1
        return self.servers[self._turn % len(self.servers)]

    async def login(self, email: str) -> tuple[str, str]:
        token, session = await login(self.next_server().base_url, email, PASSWORD)
        self.log.append(Event("CREATED", session["id"], email))
        return token, session["id"]

    async def call(self, query: str, token: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await graphql(self.next_server().base_url, query, variables, token=token)
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data


async def seed_people(database_url: str) -> None:
    await migrate_to_latest(database_url)
    database = Database(create_engine(database_url))
    try:
        for email, (account, admin) in PEOPLE.items():
            await create_user(database, email=email, password=PASSWORD, is_admin=admin, account_name=account)
    finally:
        await database.dispose()


@pytest.fixture(params=["one-instance", pytest.param("two-instances", marks=[pytest.mark.postgres, pytest.mark.redis])])
async def servers(
    request: pytest.FixtureRequest, tmp_path: Path, start_server: Callable[..., LiveServer]
) -> AsyncIterator[list[LiveServer]]:
    if request.param == "one-instance":
        url = sqlite_url(tmp_path)
        await seed_people(url)
        yield [start_server({"DATABASE_URL": url, "BROADCAST_URL": "memory://"})]
        return
    async with fresh_postgres_database() as url:
        await seed_people(url)
        env = {"DATABASE_URL": url, "BROADCAST_URL": REDIS_URL, "CHANNEL_PREFIX": f"test-{uuid.uuid4().hex[:8]}"}
        yield [start_server(env), start_server(env)]


async def open_panel(world: World, name: str, email: str, token: str, *, all_users: bool) -> Panel:
    socket = await GraphQLWebSocket.open(world.next_server().ws_url, token)
    await socket.acknowledged()
    await socket.subscribe(variables={"allUsers": all_users, "after": "0"})
    return Panel(name, email, all_users, socket)


async def test_every_panel_gets_exactly_its_scope_in_commit_order(servers: list[LiveServer]) -> None:
    world = World(servers)
    root, _ = await world.login("root@acme.test")
    deputy, _ = await world.login("deputy@acme.test")
    ana, _ = await world.login("ana@acme.test")
    bo, _ = await world.login("bo@acme.test")
    eve, _ = await world.login("eve@other.test")
    finn, _ = await world.login("finn@other.test")
    panels = [
        await open_panel(world, "acme admin, every user", "root@acme.test", root, all_users=True),
        await open_panel(world, "acme admin, own sessions", "deputy@acme.test", deputy, all_users=False),
        await open_panel(world, "acme member ana", "ana@acme.test", ana, all_users=False),
        await open_panel(world, "acme member bo", "bo@acme.test", bo, all_users=False),
        await open_panel(world, "other admin, every user", "eve@other.test", eve, all_users=True),
        await open_panel(world, "other member finn", "finn@other.test", finn, all_users=False),
        await open_panel(world, "acme admin, second tab", "root@acme.test", root, all_users=True),
    ]

    # Changes in both accounts, by both kinds of user, through every way of ending a session.
    _, ana_phone = await world.login("ana@acme.test")
    _, finn_phone = await world.login("finn@other.test")
    _, bo_phone = await world.login("bo@acme.test")
    await world.call(LOGOUT_SESSION, root, {"id": ana_phone})  # an administrator ends a member's session
    world.log.append(Event("ENDED", ana_phone, "ana@acme.test"))
    await world.call(LOGOUT_SESSION, eve, {"id": finn_phone})
    world.log.append(Event("ENDED", finn_phone, "finn@other.test"))
    deputy_laptop, deputy_laptop_id = await world.login("deputy@acme.test")
    ended = await world.call(LOGOUT_OTHERS, bo)  # a member ends their other session
    assert [s["id"] for s in ended["logoutOtherSessions"]["sessions"]] == [bo_phone]
    world.log.append(Event("ENDED", bo_phone, "bo@acme.test"))
    await world.call(LOGOUT, deputy_laptop)  # a session ends itself
    world.log.append(Event("ENDED", deputy_laptop_id, "deputy@acme.test"))
    await world.login("ana@acme.test")
    await world.call(LOGOUT_SESSION, finn, {"id": finn_phone})  # already ended: no second event

    received = await asyncio.gather(*(panel.socket.events_until_quiet(quiet=1.5) for panel in panels))
    for panel, events in zip(panels, received, strict=True):
        expected = [(e.type, e.session_id, e.email) for e in world.log if panel.may_see(e)]
        got = [(e["type"], e["session"]["id"], e["session"]["user"]["email"]) for e in events]
        assert got == expected, panel.name
        ids = [int(e["id"]) for e in events]
        assert ids == sorted(set(ids)), panel.name  # increasing: in order, no duplicate
    for panel in panels:
        await panel.socket.close()
