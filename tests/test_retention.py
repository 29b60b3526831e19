"""Retention prunes old events and ended sessions in batches; stale resume cursors get CURSOR_EXPIRED."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from core.errors import CursorExpired
from core.settings import Settings
from models import LoginSession, SessionEvent
from server import Runtime, open_runtime
from services.retention import Retention
from tests.conftest import People
from tests.test_sessions import sign_in


async def count(runtime: Runtime, table: type[SessionEvent] | type[LoginSession]) -> int:
    async with runtime.database.session() as db:
        return int((await db.execute(select(func.count()).select_from(table))).scalar_one())


async def test_old_events_and_ended_sessions_are_pruned_and_old_cursors_refused(
    make_settings: Callable[..., Settings], people_factory: Callable[[Runtime], People]
) -> None:
    settings = make_settings(retention_days=1 / 86400, prune_batch_size=2)  # one second, tiny batches
    async with open_runtime(settings, run_sweeper=False) as runtime:
        await people_factory(runtime).user("ana@acme.test")
        _, ana = await sign_in(runtime, "ana@acme.test")
        old = [(await sign_in(runtime, "ana@acme.test"))[0] for _ in range(3)]
        for login in old:
            await runtime.services.sessions.end_session(ana, login.session.id)
        first_stream = runtime.services.events.events(ana, all_users=False, after="0")
        oldest_event = await asyncio.wait_for(anext(first_stream), 5)
        await first_stream.aclose()
        await asyncio.sleep(1.2)
        _, fresh = await sign_in(runtime, "ana@acme.test")  # a recent event survives

        result = await Retention(runtime.database, settings).prune_once()

        assert result.events == 7  # 4 CREATED + 3 ENDED, older than a second
        assert result.sessions == 3  # the ended ones; open sessions stay
        assert await count(runtime, SessionEvent) == 1
        assert await count(runtime, LoginSession) == 2
        with pytest.raises(CursorExpired):
            await anext(runtime.services.events.events(fresh, all_users=False, after=str(oldest_event.id)))
        recent = runtime.services.events.events(fresh, all_users=False, after="0")
        with pytest.raises(CursorExpired):
            await anext(recent)
        assert (await Retention(runtime.database, settings).prune_once()).events == 0
