"""Live events: scopes, resume without gap or duplicate, lost publishes, bounded queues. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence

import pytest
from sqlalchemy import select
from sqlmodel import col

from core.errors import Forbidden
from core.settings import Settings
from models import Account, EventType
from server import Runtime, open_runtime
from services.access import AccessService
from services.event_log import append_event
from services.event_stream import SubscriberOverflow
from services.records import EventRecord
from services.session_store import load_session
from tests.conftest import PASSWORD, People
from tests.test_sessions import sign_in


async def take(stream: AsyncIterator[EventRecord], count: int, timeout: float = 5) -> list[EventRecord]:
    return [await asyncio.wait_for(anext(stream), timeout) for _ in range(count)]


async def nothing_more(stream: AsyncIterator[EventRecord], wait: float = 0.3) -> bool:
    try:
        await asyncio.wait_for(anext(stream), wait)
    except TimeoutError:
        return True
    return False


async def test_scopes_own_and_all_users(runtime: Runtime, people: People) -> None:
    await people.user("admin@acme.test", admin=True)
    await people.user("bo@acme.test")
    await people.user("eve@other.test", account="other")
    _, admin = await sign_in(runtime, "admin@acme.test")
    _, bo = await sign_in(runtime, "bo@acme.test")
    own = runtime.services.events.events(bo, all_users=False, after=None)
    everyone = runtime.services.events.events(admin, all_users=True, after=None)
    own_first = asyncio.ensure_future(anext(own))
    everyone_first = asyncio.ensure_future(anext(everyone))
    await asyncio.sleep(0.2)  # both subscriptions are attached
    await sign_in(runtime, "admin@acme.test")
    await sign_in(runtime, "eve@other.test")
    bo_new, _ = await sign_in(runtime, "bo@acme.test")
    assert (await asyncio.wait_for(own_first, 5)).session.id == bo_new.session.id
    seen_by_admin = [await asyncio.wait_for(everyone_first, 5), *await take(everyone, 1)]
    assert [e.session.user.email for e in seen_by_admin] == ["admin@acme.test", "bo@acme.test"]
    assert await nothing_more(own) and await nothing_more(everyone)
    with pytest.raises(Forbidden):
        await anext(runtime.services.events.events(bo, all_users=True, after=None))


async def test_resume_after_an_id_replays_exactly_the_missed_events_then_goes_live(
    runtime: Runtime, people: People
) -> None:
    await people.user("ana@acme.test")
    _, ana = await sign_in(runtime, "ana@acme.test")
    stream = runtime.services.events.events(ana, all_users=False, after="0")
    history = await take(stream, 1)
    assert history[0].type is EventType.CREATED
    await stream.aclose()

    missed = [(await sign_in(runtime, "ana@acme.test"))[0] for _ in range(3)]
    await runtime.services.sessions.end_session(ana, missed[0].session.id)
    resumed = runtime.services.events.events(ana, all_users=False, after=str(history[-1].id))
    replayed = await take(resumed, 4)
    assert [(e.type, e.session.id) for e in replayed] == [
        *[(EventType.CREATED, m.session.id) for m in missed],
        (EventType.ENDED, missed[0].session.id),
    ]
    live, _ = await sign_in(runtime, "ana@acme.test")
    (next_event,) = await take(resumed, 1)
    assert next_event.session.id == live.session.id
    ids = [e.id for e in [*replayed, next_event]]
    assert ids == sorted(set(ids))
    assert await nothing_more(resumed)


async def test_the_stream_stops_when_the_viewers_own_session_ends(runtime: Runtime, people: People) -> None:
    await people.user("ana@acme.test")
    _, ana = await sign_in(runtime, "ana@acme.test")
    _, ana_phone = await sign_in(runtime, "ana@acme.test")
    stream = runtime.services.events.events(ana, all_users=False, after=None)
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.2)
    await runtime.services.sessions.end_session(ana_phone, ana.session_id)
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, 5)


class DroppingPublisher:
    """Commits happen, publishes are lost: a process that died between commit and publish."""

    async def publish(self, events: Sequence[EventRecord]) -> None:
        return None


async def test_an_event_committed_but_never_published_still_arrives(
    make_settings: Callable[..., Settings], people_factory: Callable[[Runtime], People]
) -> None:
    async with open_runtime(make_settings(reconcile_interval_seconds=0.2), run_sweeper=False) as runtime:
        await people_factory(runtime).user("ana@acme.test")
        _, ana = await sign_in(runtime, "ana@acme.test")
        stream = runtime.services.events.events(ana, all_users=False, after=None)
        waiting = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0.1)
        crashed = AccessService(runtime.database, DroppingPublisher(), runtime.settings)
        result = await crashed.login(
            email="ana@acme.test", password=PASSWORD, device_name=None, user_agent=None, ip_address="::1"
        )
        event = await asyncio.wait_for(waiting, 3)
        assert (event.type, event.session.id) == (EventType.CREATED, result.session.id)


async def test_a_change_that_does_not_commit_emits_nothing(runtime: Runtime, people: People) -> None:
    await people.user("ana@acme.test")
    _, ana = await sign_in(runtime, "ana@acme.test")
    stream = runtime.services.events.events(ana, all_users=False, after="0")
    assert len(await take(stream, 1)) == 1
    with pytest.raises(RuntimeError, match="boom"):
        async with runtime.database.session() as db, db.begin():
            record = await load_session(db, ana.session_id)
            assert record is not None
            await append_event(db, EventType.UPDATED, record)
            raise RuntimeError("boom")
    await runtime.hub.reconcile()
    assert await nothing_more(stream)
    async with runtime.database.session() as db:
        assert (await db.execute(select(col(Account.event_seq)))).scalar_one() == 1


async def test_a_subscriber_that_stops_reading_is_cut_off_with_bounded_memory(
    make_settings: Callable[..., Settings], people_factory: Callable[[Runtime], People]
) -> None:
    async with open_runtime(make_settings(subscriber_queue_size=3), run_sweeper=False) as runtime:
        await people_factory(runtime).user("ana@acme.test")
        _, ana = await sign_in(runtime, "ana@acme.test")
        overflowed = asyncio.Event()
        slow = runtime.services.events.events(ana, all_users=False, after=None, on_overflow=overflowed.set)
        fast = runtime.services.events.events(ana, all_users=False, after=None)
        slow_first = asyncio.ensure_future(anext(slow))
        fast_reader = asyncio.ensure_future(take(fast, 8))  # keeps reading while events arrive
        await asyncio.sleep(0.1)
        for _ in range(8):
            await sign_in(runtime, "ana@acme.test")
        assert overflowed.is_set()
        await asyncio.wait_for(slow_first, 2)  # the one event handed over before it stopped reading
        with pytest.raises(SubscriberOverflow):
            await asyncio.wait_for(anext(slow), 2)
        fast_events = await asyncio.wait_for(fast_reader, 5)
        assert len({e.id for e in fast_events}) == 8
