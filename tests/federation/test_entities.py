"""`_entities` in the caller's scope, through the schema over the real service layer (SQLite and PostgreSQL).

A Session resolves for its own user and for administrators of its account; a User for themself and for
administrators of their account. Anything else is null, exactly like an id that does not exist, and a
malformed representation is the caller's error (BAD_USER_INPUT), never an internal one."""

from __future__ import annotations

import uuid
from typing import Any

import strawberry
from strawberry.types import ExecutionResult

from schema.build import build_schema
from server import Runtime
from tests.conftest import PASSWORD, People
from tests.test_schema_execution import LOGIN, context

ENTITIES = """query($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on Session { id status isCurrent endReason user { id email } }
    ... on User { id email isAdmin }
  }
}"""
LOGOUT = "mutation { logout { session { id } } }"


async def execute(
    schema: strawberry.Schema, runtime: Runtime, query: str, token: str | None, **variables: Any
) -> ExecutionResult:
    return await schema.execute(query, variable_values=variables, context_value=context(runtime, token))


async def log_in(schema: strawberry.Schema, runtime: Runtime, email: str) -> tuple[str, str]:
    result = await execute(schema, runtime, LOGIN, None, email=email, password=PASSWORD)
    assert result.errors is None, result.errors
    login = result.data["login"]  # type: ignore[index]
    return login["token"], login["session"]["id"]


def session(key: str) -> dict[str, str]:
    return {"__typename": "Session", "id": key}


def user(key: str) -> dict[str, str]:
    return {"__typename": "User", "id": key}


async def entities(schema: strawberry.Schema, runtime: Runtime, token: str | None, *refs: object) -> list[Any]:
    result = await execute(schema, runtime, ENTITIES, token, representations=list(refs))
    assert result.errors is None, result.errors
    found: list[Any] = result.data["_entities"]  # type: ignore[index]
    return found


async def test_members_see_their_own_sessions_and_themselves_only(runtime: Runtime, people: People) -> None:
    schema = build_schema(runtime.settings)
    ana, bo = await people.user("ana@acme.test"), await people.user("bo@acme.test")
    admin = await people.user("admin@acme.test", admin=True)
    eve = await people.user("eve@other.test", admin=True, account="other")
    ana_token, ana_session = await log_in(schema, runtime, "ana@acme.test")
    _, ana_phone = await log_in(schema, runtime, "ana@acme.test")
    _, bo_session = await log_in(schema, runtime, "bo@acme.test")
    _, eve_session = await log_in(schema, runtime, "eve@other.test")

    found = await entities(
        schema, runtime, ana_token,
        session(ana_session), session(ana_phone), user(ana.id),
        session(bo_session), user(bo.id), user(admin.id), session(eve_session), user(eve.id),
        session(str(uuid.uuid4())), user(str(uuid.uuid4())), session("not-an-id"), session("nul\x00byte"),
    )  # fmt: skip
    assert found[0] == {
        "__typename": "Session",
        "id": ana_session,
        "status": "ACTIVE",
        "isCurrent": True,
        "endReason": None,
        "user": {"id": ana.id, "email": "ana@acme.test"},
    }
    assert (found[1]["id"], found[1]["isCurrent"]) == (ana_phone, False)
    assert found[2] == {"__typename": "User", "id": ana.id, "email": "ana@acme.test", "isAdmin": False}
    # Another member's session or user, an administrator, another account, ids that do not exist: all the same.
    assert found[3:] == [None] * 9


async def test_administrators_see_their_account_and_nothing_else(runtime: Runtime, people: People) -> None:
    schema = build_schema(runtime.settings)
    bo = await people.user("bo@acme.test")
    await people.user("admin@acme.test", admin=True)
    eve = await people.user("eve@other.test", admin=True, account="other")
    admin_token, _ = await log_in(schema, runtime, "admin@acme.test")
    _, bo_session = await log_in(schema, runtime, "bo@acme.test")
    _, eve_session = await log_in(schema, runtime, "eve@other.test")

    found = await entities(
        schema, runtime, admin_token, session(bo_session), user(bo.id), session(eve_session), user(eve.id)
    )
    assert (found[0]["id"], found[0]["user"]["email"], found[0]["isCurrent"]) == (bo_session, "bo@acme.test", False)
    assert found[1] == {"__typename": "User", "id": bo.id, "email": "bo@acme.test", "isAdmin": False}
    assert found[2:] == [None, None]


async def test_ended_sessions_still_resolve_for_those_who_may_see_them(runtime: Runtime, people: People) -> None:
    """Events and logout answers carry ended sessions; a gateway may look them up later."""
    schema = build_schema(runtime.settings)
    await people.user("ana@acme.test")
    ana_token, _ = await log_in(schema, runtime, "ana@acme.test")
    phone_token, phone_session = await log_in(schema, runtime, "ana@acme.test")
    assert (await execute(schema, runtime, LOGOUT, phone_token)).errors is None

    found = await entities(schema, runtime, ana_token, session(phone_session), session(phone_session))
    assert [(s["id"], s["status"], s["endReason"]) for s in found] == [(phone_session, "ENDED", "LOGGED_OUT")] * 2
    # The ended session's own token no longer looks anything up.
    refused = await execute(schema, runtime, ENTITIES, phone_token, representations=[session(phone_session)])
    assert refused.errors is not None and refused.errors[0].extensions == {"code": "UNAUTHENTICATED"}


async def test_lookups_need_a_token_and_well_formed_representations(runtime: Runtime, people: People) -> None:
    schema = build_schema(runtime.settings)
    ana = await people.user("ana@acme.test")
    token, _ = await log_in(schema, runtime, "ana@acme.test")

    anonymous = await execute(schema, runtime, ENTITIES, None, representations=[user(ana.id)])
    assert anonymous.errors is not None and anonymous.errors[0].extensions == {"code": "UNAUTHENTICATED"}
    for malformed in (
        "User",
        ["User", ana.id],
        {"id": ana.id},
        {"__typename": "Query", "id": ana.id},
        {"__typename": "Device", "id": ana.id},
        {"__typename": "User"},
        {"__typename": "User", "id": 7},
        {"__typename": "User", "id": {"$ne": None}},
    ):
        refused = await execute(schema, runtime, ENTITIES, token, representations=[user(ana.id), malformed])
        assert refused.errors is not None, malformed
        assert [error.extensions for error in refused.errors] == [{"code": "BAD_USER_INPUT"}], malformed

    assert await entities(schema, runtime, token) == []
