"""The account-security fields through the schema: coded errors and the new Session fields. SQLite and PostgreSQL."""

from __future__ import annotations

from schema.build import build_schema
from server import Runtime
from tests.conftest import PASSWORD, People
from tests.test_schema_execution import LOGIN, execute

CHANGE = """mutation($current: String!, $new: String!) {
  changePassword(input: {currentPassword: $current, newPassword: $new}) {
    endedSessions { id endReason endedBy { email } }
  }
}"""
BULK = """mutation($prefix: String, $userId: ID) {
  logoutSessions(filter: {ipPrefix: $prefix, userId: $userId}) { count sessions { id endReason endedBy { email } } }
}"""
HISTORY = """{ sessionHistory {
  totalCount nodes { id status endReason endedBy { email } isNewDevice location { country } }
} }"""


async def test_change_password_bulk_logout_and_history_through_the_schema(runtime: Runtime, people: People) -> None:
    schema = build_schema(runtime.settings)
    await people.user("admin@acme.test", admin=True)
    await people.user("bo@acme.test")

    async def login(email: str) -> str:
        result = await execute(schema, runtime, LOGIN, email=email, password=PASSWORD)
        assert result.errors is None
        return str(result.data["login"]["token"])  # type: ignore[index]

    admin, bo_old, bo = await login("admin@acme.test"), await login("bo@acme.test"), await login("bo@acme.test")
    weak = await execute(schema, runtime, CHANGE, bo, current=PASSWORD, new="password")
    wrong = await execute(schema, runtime, CHANGE, bo, current="not my password", new="plum tractor velvet lagoon")
    for refused in (weak, wrong):
        assert refused.errors and refused.errors[0].extensions == {"code": "BAD_USER_INPUT"}
    changed = await execute(schema, runtime, CHANGE, bo, current=PASSWORD, new="plum tractor velvet lagoon")
    assert changed.errors is None
    [ended] = changed.data["changePassword"]["endedSessions"]  # type: ignore[index]
    assert ended["endReason"] == "PASSWORD_CHANGED" and ended["endedBy"] == {"email": "bo@acme.test"}
    refused_old = await execute(schema, runtime, HISTORY, bo_old)
    assert refused_old.errors and refused_old.errors[0].extensions == {"code": "UNAUTHENTICATED"}

    for prefix, code in (("10.0.0.0/33", "BAD_USER_INPUT"), (None, "BAD_USER_INPUT")):
        result = await execute(schema, runtime, BULK, admin, prefix=prefix)
        assert result.errors and result.errors[0].extensions == {"code": code}
    member = await execute(schema, runtime, BULK, bo, prefix="198.51.100.0/24")
    assert member.errors and member.errors[0].extensions == {"code": "FORBIDDEN"}
    foreign = await execute(schema, runtime, BULK, admin, userId="00000000-0000-0000-0000-000000000000")
    assert foreign.errors and foreign.errors[0].extensions == {"code": "NOT_FOUND"}
    bulk = await execute(schema, runtime, BULK, admin, prefix="198.51.100.0/24")
    assert bulk.errors is None and bulk.data["logoutSessions"]["count"] == 2  # type: ignore[index]

    history = await execute(schema, runtime, HISTORY, await login("admin@acme.test"))
    assert history.errors is None
    nodes = history.data["sessionHistory"]["nodes"]  # type: ignore[index]
    assert [n["status"] for n in nodes] == ["ACTIVE", "ENDED"]
    assert nodes[1]["endReason"] == "REVOKED_BY_ADMIN" and nodes[1]["endedBy"] == {"email": "admin@acme.test"}
    assert [n["isNewDevice"] for n in nodes] == [False, True] and nodes[0]["location"] is None
