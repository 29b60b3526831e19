"""Delivery rules against a real receiver process: 410 Gone and long failure disable an endpoint (visibly),
redirects are not followed, and the address check runs again at delivery time. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from core.settings import Settings
from models import WebhookEndpoint
from schema.build import build_schema
from server import Runtime, open_runtime
from services.webhook_delivery import WebhookWorker
from tests.conftest import People
from tests.test_schema_execution import execute
from tests.test_sessions import sign_in
from tests.webhooks.support import Receiver, eventually
from tests.webhooks.test_delivery_outage import webhook_settings

ENDPOINTS = "{ webhookEndpoints { id enabled disabledReason failingSince } }"
DELIVERIES = """query($id: ID!) {
  webhookDeliveries(endpointId: $id) { eventType webhookId status attempts responseCode lastError nextAttemptAt }
}"""


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    opened = Receiver(tmp_path)
    yield opened
    opened.stop()


@pytest.fixture
async def lenient(make_settings: Callable[..., Settings]) -> AsyncIterator[Runtime]:
    async with open_runtime(webhook_settings(make_settings), run_sweeper=False) as opened:
        yield opened


async def admin_with_endpoint(runtime: Runtime, people: People, receiver: Receiver, status: int) -> tuple[str, str]:
    await people.user("admin@acme.test", admin=True)
    token = (await sign_in(runtime, "admin@acme.test"))[0].token
    viewer = await runtime.services.access.authenticate(token)
    created = await runtime.services.webhooks.create_for(viewer, receiver.url("/hook"), None)
    receiver.start({"/hook": created.secret}, status=status)
    await sign_in(runtime, "admin@acme.test")  # one event for the endpoint
    return token, created.endpoint.id


async def test_410_gone_disables_the_endpoint_and_shows_why(
    lenient: Runtime, people_factory: Callable[[Runtime], People], receiver: Receiver
) -> None:
    token, endpoint_id = await admin_with_endpoint(lenient, people_factory(lenient), receiver, 410)
    await WebhookWorker(lenient.database, lenient.settings).deliver_due()

    schema = build_schema(lenient.settings)
    [endpoint] = (await execute(schema, lenient, ENDPOINTS, token)).data["webhookEndpoints"]  # type: ignore[index]
    assert endpoint == {
        "id": endpoint_id,
        "enabled": False,
        "disabledReason": "410 Gone",
        "failingSince": endpoint["failingSince"],
    }
    [delivery] = (await execute(schema, lenient, DELIVERIES, token, id=endpoint_id)).data["webhookDeliveries"]  # type: ignore[index]
    assert delivery["status"] == "FAILED" and delivery["responseCode"] == 410 and delivery["attempts"] == 1
    assert delivery["eventType"] == "session.created" and delivery["webhookId"].startswith("evt_")
    assert [e["status"] for e in receiver.entries()] == [410]
    await sign_in(lenient, "admin@acme.test")  # a disabled endpoint gets nothing more
    await WebhookWorker(lenient.database, lenient.settings).deliver_due()
    assert len(receiver.entries()) == 1
    listed = await lenient.services.webhooks.list_all()
    assert [(e.enabled, e.disabled_reason) for e in listed] == [(False, "410 Gone")]


async def test_an_endpoint_failing_past_the_limit_is_disabled_and_redirects_are_not_followed(
    make_settings: Callable[..., Settings], people_factory: Callable[[Runtime], People], receiver: Receiver
) -> None:
    settings = webhook_settings(make_settings, webhook_disable_after_seconds=1.0, webhook_retry_base_seconds=0.1)
    async with open_runtime(settings, run_sweeper=False) as runtime:
        token, endpoint_id = await admin_with_endpoint(runtime, people_factory(runtime), receiver, 302)
        worker = WebhookWorker(runtime.database, settings)

        async def disabled() -> bool:
            await worker.deliver_due()
            async with runtime.database.session() as db:
                endpoint = await db.get(WebhookEndpoint, endpoint_id)
                return endpoint is not None and not endpoint.enabled

        await eventually(disabled, 20, "the endpoint disabled after failing for a second")
        entries = receiver.entries()
        assert len(entries) >= 2 and {e["status"] for e in entries} == {302}  # never followed anywhere
        assert len({e["webhook_id"] for e in entries}) == 1  # the same webhook-id on every retry
        deliveries = await execute(build_schema(settings), runtime, DELIVERIES, token, id=endpoint_id)
        [delivery] = deliveries.data["webhookDeliveries"]  # type: ignore[index]
        assert delivery["status"] == "FAILED" and delivery["responseCode"] == 302
        assert delivery["attempts"] == len(entries) and delivery["nextAttemptAt"] is None
        [endpoint] = await runtime.services.webhooks.list_all()
        assert endpoint.disabled_reason is not None and endpoint.disabled_reason.startswith("failing since")

        receiver.set_mode(status=200)
        await runtime.services.webhooks.enable(endpoint_id)  # the operator turns it back on: it resumes
        await worker.deliver_due()
        assert receiver.delivered("/hook")[-1]["webhook_id"] == entries[0]["webhook_id"]


async def test_the_address_is_checked_again_at_delivery_time(
    lenient: Runtime, people_factory: Callable[[Runtime], People], receiver: Receiver
) -> None:
    await admin_with_endpoint(lenient, people_factory(lenient), receiver, 200)
    strict = lenient.settings.model_copy(update={"webhook_allow_private_targets": False})
    await WebhookWorker(lenient.database, strict).deliver_due()
    assert receiver.entries() == []  # nothing reached the loopback receiver
    async with lenient.database.session() as db:
        [endpoint] = (await db.execute(select(WebhookEndpoint))).scalars().all()
    assert endpoint.enabled and endpoint.failing_since is not None and endpoint.next_attempt_at is not None
    [endpoint_record] = await lenient.services.webhooks.list_all()
    token = (await sign_in(lenient, "admin@acme.test"))[0].token
    result = await execute(build_schema(strict), lenient, DELIVERIES, token, id=endpoint_record.id)
    [delivery] = result.data["webhookDeliveries"]  # type: ignore[index]
    assert delivery["status"] == "PENDING" and delivery["responseCode"] is None
    assert "not a public address" in delivery["lastError"]
