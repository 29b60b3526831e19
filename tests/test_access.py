"""Login and token checks, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from sqlalchemy import select, text
from sqlmodel import col

from core.errors import Unauthenticated
from core.settings import Settings
from core.tokens import hash_token
from models import DeviceType, EndReason, EventType, LoginSession, SessionEvent
from server import Runtime, open_runtime
from tests.conftest import PASSWORD, People
from tests.support.graphql_http import DESKTOP_CHROME, IPHONE_SAFARI


async def test_login_records_device_ip_and_only_the_token_hash(runtime: Runtime, people: People) -> None:
    await people.user("ana@acme.test")
    result = await runtime.services.access.login(
        email="Ana@Acme.test", password=PASSWORD, device_name=None, user_agent=IPHONE_SAFARI, ip_address="198.51.100.7"
    )
    assert len(result.token) >= 43  # 256 bits, url-safe base64
    assert result.session.device_type is DeviceType.MOBILE
    assert result.session.device_label == "Mobile Safari 17 on iOS"
    assert result.session.ip_address == "198.51.100.7"
    async with runtime.database.session() as db:
        row = (await db.execute(select(LoginSession))).scalar_one()
        dump = " ".join(str(v) for v in (await db.execute(text("SELECT * FROM login_session"))).one())
        events = (await db.execute(select(SessionEvent))).scalars().all()
    assert row.token_hash == hash_token(result.token)
    assert result.token not in dump
    assert [e.type for e in events] == [EventType.CREATED]


async def test_device_name_given_at_login_is_the_label(runtime: Runtime, people: People) -> None:
    await people.user("ana@acme.test")
    result = await runtime.services.access.login(
        email="ana@acme.test", password=PASSWORD, device_name="Work laptop", user_agent=DESKTOP_CHROME, ip_address="::1"
    )
    assert result.session.device_label == "Work laptop"
    assert result.session.device_type is DeviceType.DESKTOP


async def test_wrong_password_and_unknown_email_fail_alike(runtime: Runtime, people: People) -> None:
    await people.user("ana@acme.test")
    failures = []
    for email, password in [("ana@acme.test", "wrong password"), ("nobody@acme.test", PASSWORD)]:
        started = time.perf_counter()
        with pytest.raises(Unauthenticated) as caught:
            await runtime.services.access.login(
                email=email, password=password, device_name=None, user_agent=None, ip_address="127.0.0.1"
            )
        failures.append((caught.value.message, time.perf_counter() - started))
    (first_message, first_time), (second_message, second_time) = failures
    assert first_message == second_message
    # Both run one argon2 verification: within a factor of three of each other even on a noisy machine.
    assert max(first_time, second_time) < 3 * min(first_time, second_time)


async def test_a_token_is_checked_against_the_database_every_time(runtime: Runtime, people: People) -> None:
    await people.user("ana@acme.test")
    result = await runtime.services.access.login(
        email="ana@acme.test", password=PASSWORD, device_name=None, user_agent=None, ip_address="127.0.0.1"
    )
    viewer = await runtime.services.access.authenticate(result.token)
    assert viewer.session_id == result.session.id
    await runtime.services.sessions.logout(viewer)
    with pytest.raises(Unauthenticated):
        await runtime.services.access.authenticate(result.token)
    for bad in (None, "", "not-a-token", result.token + "x"):
        with pytest.raises(Unauthenticated):
            await runtime.services.access.authenticate(bad)


async def test_an_expired_token_ends_its_session_once_with_expired(
    make_settings: Callable[..., Settings], people_factory: Callable[[Runtime], People]
) -> None:
    async with open_runtime(make_settings(absolute_lifetime_seconds=0.5), run_sweeper=False) as runtime:
        await people_factory(runtime).user("ana@acme.test")
        result = await runtime.services.access.login(
            email="ana@acme.test", password=PASSWORD, device_name=None, user_agent=None, ip_address="127.0.0.1"
        )
        await asyncio.sleep(0.7)
        outcomes = await asyncio.gather(
            *(runtime.services.access.authenticate(result.token) for _ in range(3)), return_exceptions=True
        )
        assert all(isinstance(outcome, Unauthenticated) for outcome in outcomes)
        async with runtime.database.session() as db:
            row = (await db.execute(select(LoginSession))).scalar_one()
            ended = (
                (await db.execute(select(SessionEvent).where(col(SessionEvent.type) == EventType.ENDED)))
                .scalars()
                .all()
            )
        assert row.end_reason == EndReason.EXPIRED
        assert len(ended) == 1
