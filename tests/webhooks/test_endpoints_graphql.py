"""Administrators manage their own account's webhook endpoints in GraphQL; members get FORBIDDEN and another
account's endpoint is NOT_FOUND; unsafe URLs and bad input change nothing. SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry
from sqlalchemy import func, select
from standardwebhooks import Webhook

from core.secret_box import SecretBox
from models import WebhookEndpoint
from schema.build import build_schema
from server import Runtime
from tests.conftest import People
from tests.test_schema_execution import execute
from tests.test_sessions import sign_in

CREATE = """mutation($url: String!, $types: [String!]) {
  createWebhookEndpoint(input: {url: $url, eventTypes: $types}) {
    secret endpoint { id url eventTypes enabled disabledReason failingSince createdAt }
  }
}"""
LIST = "{ webhookEndpoints { id url eventTypes enabled } }"
DELIVERIES = "query($id: ID!) { webhookDeliveries(endpointId: $id) { id status attempts responseCode } }"
DELETE = "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { endpoint { id url } } }"
ROTATE = "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret endpoint { id } } }"
PUBLIC_URL = "https://8.8.8.8/hooks"  # a literal public address: nothing to resolve, and no event is sent


def code(result: Any) -> str:
    assert result.errors, result
    return str(result.errors[0].extensions["code"])


async def stored_endpoints(runtime: Runtime) -> list[WebhookEndpoint]:
    async with runtime.database.session() as db:
        return list((await db.execute(select(WebhookEndpoint))).scalars().all())


async def test_administrators_manage_their_own_account_only(runtime: Runtime, people: People) -> None:
    schema = build_schema(runtime.settings)
    await people.user("admin@acme.test", admin=True)
    await people.user("bo@acme.test")
    await people.user("root@other.test", admin=True, account="other")
    admin = (await sign_in(runtime, "admin@acme.test"))[0].token
    member = (await sign_in(runtime, "bo@acme.test"))[0].token
    outsider = (await sign_in(runtime, "root@other.test"))[0].token

    created = await execute(schema, runtime, CREATE, admin, url=PUBLIC_URL, types=["session.ended"])
    assert created.errors is None, created.errors
    payload = created.data["createWebhookEndpoint"]  # type: ignore[index]
    endpoint_id, secret = payload["endpoint"]["id"], payload["secret"]
    assert payload["endpoint"]["eventTypes"] == ["session.ended"] and payload["endpoint"]["enabled"] is True
    assert secret.startswith("whsec_")
    Webhook(secret)  # the reference library accepts it
    [row] = await stored_endpoints(runtime)
    assert secret not in row.secret_encrypted and secret.removeprefix("whsec_") not in row.secret_encrypted
    assert SecretBox.from_settings(runtime.settings).decrypt(row.secret_encrypted) == secret

    listed = await execute(schema, runtime, LIST, admin)
    assert listed.data == {
        "webhookEndpoints": [{"id": endpoint_id, "url": PUBLIC_URL, "eventTypes": ["session.ended"], "enabled": True}]
    }
    assert (await execute(schema, runtime, DELIVERIES, admin, id=endpoint_id)).data == {"webhookDeliveries": []}

    by_id = {"id": endpoint_id}
    for query, variables in [
        (LIST, {}),
        (CREATE, {"url": PUBLIC_URL}),
        (DELIVERIES, by_id),
        (DELETE, by_id),
        (ROTATE, by_id),
    ]:
        assert code(await execute(schema, runtime, query, member, **variables)) == "FORBIDDEN"
    assert (await execute(schema, runtime, LIST, outsider)).data == {"webhookEndpoints": []}
    for query in (DELIVERIES, DELETE, ROTATE):
        assert code(await execute(schema, runtime, query, outsider, id=endpoint_id)) == "NOT_FOUND"
        assert code(await execute(schema, runtime, query, admin, id=str(strawberry.ID("x" * 500)))) == "NOT_FOUND"
    assert len(await stored_endpoints(runtime)) == 1

    rotated = await execute(schema, runtime, ROTATE, admin, id=endpoint_id)
    new_secret = rotated.data["rotateWebhookSecret"]["secret"]  # type: ignore[index]
    assert new_secret.startswith("whsec_") and new_secret != secret
    [row] = await stored_endpoints(runtime)
    assert SecretBox.from_settings(runtime.settings).decrypt(row.secret_encrypted) == new_secret

    deleted = await execute(schema, runtime, DELETE, admin, id=endpoint_id)
    assert deleted.data == {"deleteWebhookEndpoint": {"endpoint": {"id": endpoint_id, "url": PUBLIC_URL}}}
    assert code(await execute(schema, runtime, DELETE, admin, id=endpoint_id)) == "NOT_FOUND"
    assert await stored_endpoints(runtime) == []


@pytest.mark.parametrize(
    ("url", "types", "expected"),
    [
        ("http://169.254.169.254/latest/meta-data/", None, "UNSAFE_WEBHOOK_URL"),
        ("https://127.0.0.1/hook", None, "UNSAFE_WEBHOOK_URL"),
        ("https://localhost/hook", None, "UNSAFE_WEBHOOK_URL"),
        ("https://167772161/hook", None, "UNSAFE_WEBHOOK_URL"),  # resolves to 10.0.0.1
        ("http://8.8.8.8/hook", None, "UNSAFE_WEBHOOK_URL"),  # plain http
        (PUBLIC_URL, ["session.touched"], "BAD_USER_INPUT"),
        (PUBLIC_URL, [], "BAD_USER_INPUT"),
    ],
)
async def test_unsafe_urls_and_bad_input_are_refused_and_store_nothing(
    runtime: Runtime, people: People, url: str, types: list[str] | None, expected: str
) -> None:
    schema = build_schema(runtime.settings)
    await people.user("admin@acme.test", admin=True)
    admin = (await sign_in(runtime, "admin@acme.test"))[0].token
    refused = await execute(schema, runtime, CREATE, admin, url=url, types=types)
    assert code(refused) == expected
    assert refused.errors is not None and "Traceback" not in refused.errors[0].message
    async with runtime.database.session() as db:
        assert (await db.execute(select(func.count()).select_from(WebhookEndpoint))).scalar_one() == 0
