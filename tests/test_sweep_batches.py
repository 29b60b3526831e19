"""The sweep works in short transactions: a logout during a large sweep is not queued behind all of it.
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import event, func, select
from sqlmodel import col

from core.clock import utc_now
from core.settings import Settings
from models import Account, EventType, LoginSession, SessionEvent, SessionStatus, User
from server import Runtime, open_runtime
from tests.conftest import People
from tests.support.seeding import seed_sessions
from tests.test_sessions import sign_in

BATCH = 100


@contextmanager
def counting_commits(runtime: Runtime) -> Iterator[list[int]]:
    """Counts the transactions committed through the runtime's engine meanwhile."""
    commits = [0]

    def on_commit(_connection: Any) -> None:
        commits[0] += 1

    event.listen(runtime.database.engine.sync_engine, "commit", on_commit)
    try:
        yield commits
    finally:
        event.remove(runtime.database.engine.sync_engine, "commit", on_commit)


async def events_of(runtime: Runtime, event_type: EventType) -> list[SessionEvent]:
    async with runtime.database.session() as db:
        query = select(SessionEvent).where(col(SessionEvent.type) == event_type).order_by(col(SessionEvent.id))
        return list((await db.execute(query)).scalars().all())


async def test_a_large_sweep_runs_in_many_short_transactions_with_gapless_events(
    make_settings: Callable[..., Settings], people_factory: Callable[[Runtime], People]
) -> None:
    settings = make_settings(sweep_batch_size=BATCH, idle_window_seconds=60)
    async with open_runtime(settings, run_sweeper=False) as runtime:
        ana = await people_factory(runtime).user("ana@acme.test", admin=True)
        long_ago = utc_now() - timedelta(minutes=5)
        await seed_sessions(runtime.database, ana, 1050, last_seen_at=long_ago)
        await seed_sessions(runtime.database, ana, 30, expires_at=utc_now() - timedelta(seconds=1))
        with counting_commits(runtime) as commits:
            result = await runtime.sweeper.sweep_once()
        assert (result.idled, result.expired) == (1050, 30)
        assert result.batches == 1 + 11  # expiry: one short batch; idle: ten full ones and the rest
        assert commits[0] >= result.batches
        updated = await events_of(runtime, EventType.UPDATED)
        ended = await events_of(runtime, EventType.ENDED)
        seqs = sorted(e.seq for e in updated + ended)
        assert seqs == list(range(1, 1081))  # one event per change, numbered without a gap
        both = sorted(updated + ended, key=lambda e: e.seq)
        assert [e.id or 0 for e in both] == sorted(e.id or 0 for e in both)  # id order is seq order
        async with runtime.database.session() as db:
            statuses = (await db.execute(select(col(LoginSession.status), func.count()).group_by("status"))).all()
            counters = (
                await db.execute(
                    select(col(Account.open_sessions), col(User.open_sessions)).join(
                        User, col(User.account_id) == col(Account.id)
                    )
                )
            ).one()
        assert dict(statuses) == {SessionStatus.IDLE: 1050, SessionStatus.ENDED: 30}
        assert tuple(counters) == (1050, 1050)
        assert (await runtime.sweeper.sweep_once()).idled == 0


async def test_a_logout_during_a_large_sweep_lands_between_its_batches(
    make_settings: Callable[..., Settings], people_factory: Callable[[Runtime], People]
) -> None:
    """Seq order is commit order: the logout's ENDED event is numbered among the sweep's events, not after
    them, so the logout did not wait for the sweep to finish (no timing involved)."""
    settings = make_settings(sweep_batch_size=BATCH, idle_window_seconds=60)
    async with open_runtime(settings, run_sweeper=False) as runtime:
        people = people_factory(runtime)
        await people.user("admin@acme.test", admin=True)
        member = await people.user("bo@acme.test")
        _, admin = await sign_in(runtime, "admin@acme.test")
        victim, _ = await sign_in(runtime, "bo@acme.test")
        await seed_sessions(runtime.database, member, 3000, last_seen_at=utc_now() - timedelta(minutes=5))
        stream = runtime.services.events.events(admin, all_users=True, after=None)
        first_event = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0)
        sweep = asyncio.create_task(runtime.sweeper.sweep_once())
        try:
            assert (await asyncio.wait_for(first_event, 30)).type is EventType.UPDATED  # a first batch committed
            ended = await runtime.services.sessions.end_session(admin, victim.session.id)
            assert ended.ended_at is not None
            assert not sweep.done()  # the logout came back while the sweep was still at work
            result = await asyncio.wait_for(sweep, 120)
        finally:
            await stream.aclose()
            if not sweep.done():
                sweep.cancel()
        assert result.idled == 3000
        (logout,) = [e for e in await events_of(runtime, EventType.ENDED) if e.session_id == victim.session.id]
        idle_seqs = [e.seq for e in await events_of(runtime, EventType.UPDATED)]
        assert min(idle_seqs) < logout.seq < max(idle_seqs)
