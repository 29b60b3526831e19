"""`totalCount` is exact and read from counters: every way a session opens or ends keeps them in step.
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from core.errors import Unauthenticated
from core.settings import Settings
from models import Account, LoginSession, User
from server import Runtime, open_runtime
from services.viewer import Viewer
from tests.conftest import People
from tests.test_sessions import sign_in


async def listed(runtime: Runtime, viewer: Viewer, *, all_users: bool) -> tuple[int, int]:
    """(totalCount, sessions actually listed, walking every page)."""
    sessions = runtime.services.sessions
    page = await sessions.list_active(viewer, user_id=None, all_users=all_users, first=2, after=None)
    total, seen = page.total_count, len(page.sessions)
    while page.has_next_page:
        page = await sessions.list_active(viewer, user_id=None, all_users=all_users, first=2, after=page.cursors[-1])
        assert page.total_count == total
        seen += len(page.sessions)
    return total, seen


async def counters_match_the_rows(runtime: Runtime) -> None:
    async with runtime.database.session() as db:
        open_ = col(LoginSession.ended_at).is_(None)
        per_account = select(func.count()).where(open_, col(LoginSession.account_id) == col(Account.id))
        per_user = select(func.count()).where(open_, col(LoginSession.user_id) == col(User.id))
        accounts = (await db.execute(select(col(Account.open_sessions), per_account.scalar_subquery()))).all()
        users = (await db.execute(select(col(User.open_sessions), per_user.scalar_subquery()))).all()
    assert all(kept == counted for kept, counted in [*accounts, *users]), (accounts, users)


async def test_counts_follow_logins_logouts_revocations_and_expiry(
    make_settings: Callable[..., Settings], people_factory: Callable[[Runtime], People]
) -> None:
    lifetime = 4.0
    async with open_runtime(make_settings(absolute_lifetime_seconds=lifetime), run_sweeper=False) as runtime:
        people = people_factory(runtime)
        await people.user("admin@acme.test", admin=True)
        await people.user("bo@acme.test")
        await people.user("eve@other.test", account="other")
        old = [(await sign_in(runtime, "bo@acme.test"))[0] for _ in range(2)]
        await sign_in(runtime, "eve@other.test")
        await asyncio.sleep(lifetime + 0.1)  # the old ones are past their lifetime; nothing has ended them
        _, admin = await sign_in(runtime, "admin@acme.test")
        _, bo = await sign_in(runtime, "bo@acme.test")
        extra = [(await sign_in(runtime, "bo@acme.test"))[0] for _ in range(3)]
        assert await listed(runtime, admin, all_users=True) == (5, 5)  # expired ones neither listed nor counted
        assert await listed(runtime, bo, all_users=False) == (4, 4)
        await counters_match_the_rows(runtime)

        await runtime.services.sessions.end_session(admin, extra[0].session.id)  # by an administrator
        await runtime.services.sessions.end_session(bo, extra[0].session.id)  # already ended: no change
        assert len(await runtime.services.sessions.end_other_sessions(bo)) == 4  # extra[1:] and the old ones
        assert await listed(runtime, bo, all_users=False) == (1, 1)
        assert await listed(runtime, admin, all_users=True) == (2, 2)
        await counters_match_the_rows(runtime)

        assert (await runtime.sweeper.sweep_once()).expired == 1  # eve's
        with pytest.raises(Unauthenticated):
            await runtime.services.access.authenticate(old[0].token)
        await counters_match_the_rows(runtime)
