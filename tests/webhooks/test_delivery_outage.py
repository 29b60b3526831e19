"""Webhooks reach a receiver that is down (refusing, then answering 500) while 50 sessions start and end:
once it answers 200, every event arrives, signed, in order per endpoint, each webhook-id accepted exactly once.
SQLite and PostgreSQL; the receiver is a real process verifying with the `standardwebhooks` library."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import col

from core.settings import Settings
from models import SessionEvent, WebhookDelivery, WebhookEndpoint
from server import Runtime, open_runtime
from tests.conftest import People
from tests.test_sessions import sign_in
from tests.webhooks.support import Receiver, eventually

SESSIONS = 50


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    opened = Receiver(tmp_path)
    yield opened
    opened.stop()


def webhook_settings(make_settings: Callable[..., Settings], **overrides: object) -> Settings:
    values: dict[str, object] = {
        "webhook_allow_http": True,
        "webhook_allow_private_targets": True,  # the receiver listens on loopback
        "webhook_retry_base_seconds": 0.2,
        "webhook_retry_max_seconds": 1.0,
        "webhook_poll_seconds": 0.05,
        "webhook_timeout_seconds": 5,
    }
    return make_settings(**(values | overrides))


@pytest.fixture
async def delivering(make_settings: Callable[..., Settings]) -> AsyncIterator[Runtime]:
    async with open_runtime(webhook_settings(make_settings), run_sweeper=False, run_webhooks=True) as opened:
        yield opened


async def account_events(runtime: Runtime) -> list[SessionEvent]:
    async with runtime.database.session() as db:
        return list((await db.execute(select(SessionEvent).order_by(col(SessionEvent.id)))).scalars().all())


@pytest.mark.slow
async def test_an_outage_loses_nothing_and_repeats_nothing_once_answered(
    delivering: Runtime, people_factory: Callable[[Runtime], People], receiver: Receiver
) -> None:
    runtime = delivering
    people = people_factory(runtime)
    await people.user("admin@acme.test", admin=True)
    await people.user("ana@acme.test")
    _, admin = await sign_in(runtime, "admin@acme.test")
    everything = await runtime.services.webhooks.create_for(admin, receiver.url("/all"), None)
    ends = await runtime.services.webhooks.create_for(admin, receiver.url("/ends"), ["session.ended"])

    async def churn() -> None:  # 50 sessions start and end, a few at a time
        for _ in range(SESSIONS // 5):
            logins = await asyncio.gather(*(sign_in(runtime, "ana@acme.test") for _ in range(5)))
            for _, viewer in logins:
                await runtime.services.sessions.logout(viewer)

    churning = asyncio.create_task(churn())

    async def refused_attempts() -> bool:
        async with runtime.database.session() as db:
            rows = (await db.execute(select(WebhookDelivery))).scalars().all()
            return any(row.last_error and "refused" in row.last_error for row in rows)

    await eventually(refused_attempts, 30, "attempts refused while the receiver is down")
    receiver.start({"/all": everything.secret, "/ends": ends.secret}, status=500)
    await eventually(lambda: any(e["status"] == 500 for e in receiver.entries()), 30, "an attempt answered 500")
    await churning
    receiver.set_mode(status=200)

    events = [event for event in await account_events(runtime) if event.user_id != admin.user.id]
    assert len(events) == 2 * SESSIONS
    wanted = {
        "/all": [event.id for event in events],
        "/ends": [event.id for event in events if event.type == "ENDED"],
    }
    await eventually(
        lambda: all(len(receiver.delivered(path)) >= len(ids) for path, ids in wanted.items()),
        60,
        "every event delivered",
    )
    entries = receiver.entries()
    assert entries and all(entry["verified"] for entry in entries), "every request carries a valid signature"
    assert any(entry["status"] == 500 for entry in entries)
    for path, ids in wanted.items():
        accepted = receiver.delivered(path)
        assert [entry["event_id"] for entry in accepted] == ids, f"{path}: in event order, each once"
        assert len({entry["webhook_id"] for entry in accepted}) == len(ids)
        assert all(entry["webhook_id"] == f"evt_{entry['event_id']}" for entry in accepted)
        retried = {entry["webhook_id"] for entry in entries if entry["path"] == path and entry["status"] != 200}
        assert retried <= {entry["webhook_id"] for entry in accepted}, "a failed event is resent until accepted"

    ended = next(entry["body"] for entry in receiver.delivered("/ends"))
    assert set(ended) == {"type", "timestamp", "data"} and ended["type"] == "session.ended"
    assert set(ended["data"]) == {"event_id", "account_id", "session", "actor_user_id"}
    session_keys = {"id", "user_id", "user_external_id", "status", "device", "ip_address", "created_at"}
    session_keys |= {"ended_at", "end_reason"}
    assert set(ended["data"]["session"]) == session_keys
    assert ended["data"]["session"]["end_reason"] == "LOGGED_OUT"
    assert ended["data"]["actor_user_id"] == ended["data"]["session"]["user_id"]
    created = receiver.delivered("/all")[0]["body"]
    assert created["type"] == "session.created" and created["data"]["actor_user_id"] is None

    async with runtime.database.session() as db:
        endpoints = (await db.execute(select(WebhookEndpoint))).scalars().all()
        assert all(e.enabled and e.failing_since is None for e in endpoints)
        deliveries = (await db.execute(select(WebhookDelivery))).scalars().all()
        assert {d.status for d in deliveries} == {"SUCCEEDED"}
        assert any(d.attempts > 1 and d.response_code == 200 for d in deliveries)
