"""Reaching other users' sessions by id: refused, with the same answer for a foreign id and a random one.

Rows already covered elsewhere (SECURITY.md lists them): tests/test_sessions.py (service level) and
tests/test_e2e_live.py (administrator stream isolation, member refused allUsers)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.hardening.conftest import ADMIN, MEMBER_A, MEMBER_B, OTHER_ADMIN, Deployment, deploy, token_of
from tests.support.graphql_http import graphql
from tests.support.graphql_ws import GraphQLWebSocket

pytestmark = pytest.mark.slow

LIST = """
query($userId: ID, $after: String) { activeSessions(userId: $userId, after: $after) { nodes { id user { email } } } }
"""
LOGOUT_SESSION = "mutation($id: ID!) { logoutSession(id: $id) { session { id } } }"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    deployed = deploy(tmp_path_factory.mktemp("idor"))
    deployed.start()
    yield deployed
    deployed.stop()


def refusal(body: dict[str, Any]) -> tuple[str, str]:
    assert body["data"] is None, body
    error = body["errors"][0]
    return error["extensions"]["code"], error["message"]


async def test_a_member_cannot_list_another_users_sessions(world: Deployment) -> None:
    base = world.servers[0].base_url
    ana, _ = await token_of(base, MEMBER_A[0])
    answers = {
        target: refusal(await graphql(base, LIST, {"userId": target}, token=ana))
        for target in (world.user_ids[MEMBER_B[0]], world.user_ids[OTHER_ADMIN[0]], str(uuid.uuid4()), "x")
    }
    assert set(answers.values()) == {("FORBIDDEN", answers["x"][1])}  # one answer: nothing about existence
    own = await graphql(base, LIST, {"userId": world.user_ids[MEMBER_A[0]]}, token=ana)
    assert {n["user"]["email"] for n in own["data"]["activeSessions"]["nodes"]} == {MEMBER_A[0]}


async def test_nobody_ends_a_session_they_may_not_see_and_learns_nothing(world: Deployment) -> None:
    base = world.servers[0].base_url
    ana, _ = await token_of(base, MEMBER_A[0])
    bo, bo_session = await token_of(base, MEMBER_B[0])
    eve, eve_session = await token_of(base, OTHER_ADMIN[0])
    admin, _ = await token_of(base, ADMIN[0])
    attempts = [
        (ana, bo_session),  # member -> same-account user
        (ana, eve_session),  # member -> other account
        (admin, eve_session),  # administrator of acme -> other account
        (eve, bo_session),  # administrator of other -> acme
    ]
    answers = {refusal(await graphql(base, LOGOUT_SESSION, {"id": target}, token=t)) for t, target in attempts}
    for t in (ana, admin, eve):
        for target in (str(uuid.uuid4()), "x", ""):
            answers.add(refusal(await graphql(base, LOGOUT_SESSION, {"id": target}, token=t)))
    assert len(answers) == 1 and next(iter(answers))[0] == "NOT_FOUND"
    for token in (bo, eve):  # and the targets are untouched
        assert "errors" not in await graphql(base, "{ viewer { email } }", token=token)


async def test_an_administrator_cannot_list_users_of_another_account(world: Deployment) -> None:
    base = world.servers[0].base_url
    admin, _ = await token_of(base, ADMIN[0])
    foreign = refusal(await graphql(base, LIST, {"userId": world.user_ids[OTHER_ADMIN[0]]}, token=admin))
    random = refusal(await graphql(base, LIST, {"userId": str(uuid.uuid4())}, token=admin))
    assert foreign == random and foreign[0] == "NOT_FOUND"
    member = await graphql(base, LIST, {"userId": world.user_ids[MEMBER_B[0]]}, token=admin)
    assert "errors" not in member  # while users of its own account are fine


async def test_a_forged_cursor_naming_someone_elses_session_reveals_nothing(world: Deployment) -> None:
    base = world.servers[0].base_url
    ana, _ = await token_of(base, MEMBER_A[0])
    _, bo_session = await token_of(base, MEMBER_B[0])
    cursor = base64.urlsafe_b64encode(json.dumps(["2999-01-01T00:00:00+00:00", bo_session]).encode()).decode()
    page = await graphql(base, LIST, {"after": cursor.rstrip("=")}, token=ana)
    assert {n["user"]["email"] for n in page["data"]["activeSessions"]["nodes"]} == {MEMBER_A[0]}


async def replayed(base_url: str, ws_url: str, token: str, **variables: object) -> list[dict[str, Any]]:
    socket = await GraphQLWebSocket.open(ws_url, token)
    await socket.acknowledged()
    await socket.subscribe(variables={"after": "0", **variables})
    events = await socket.events_until_quiet(quiet=0.7)
    await socket.close()
    return events


async def test_replaying_from_zero_shows_only_what_the_caller_may_see(world: Deployment) -> None:
    server = world.servers[0]
    for email in (MEMBER_A[0], MEMBER_B[0], ADMIN[0], OTHER_ADMIN[0]):
        await token_of(server.base_url, email)  # every user has at least one event
    ana, _ = await token_of(server.base_url, MEMBER_A[0])
    admin, _ = await token_of(server.base_url, ADMIN[0])
    own = await replayed(server.base_url, server.ws_url, ana)
    assert own and {e["session"]["user"]["email"] for e in own} == {MEMBER_A[0]}
    account = await replayed(server.base_url, server.ws_url, admin, allUsers=True)
    emails = {e["session"]["user"]["email"] for e in account}
    assert {MEMBER_A[0], MEMBER_B[0], ADMIN[0]} <= emails and OTHER_ADMIN[0] not in emails
    forbidden = await GraphQLWebSocket.open(server.ws_url, ana)
    await forbidden.acknowledged()
    await forbidden.subscribe(variables={"allUsers": True, "after": "0"})
    message = await forbidden.receive()
    errors = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    await forbidden.close()
