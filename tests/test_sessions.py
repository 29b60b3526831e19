"""Listing and ending sessions: scopes, pagination, end reasons, exactly-once ends. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from core.errors import BadUserInput, Forbidden, NotFound
from core.settings import Settings
from models import EndReason, EventType, SessionEvent, SessionStatus
from server import Runtime, open_runtime
from services.access import LoginResult
from services.viewer import Viewer
from tests.conftest import PASSWORD, People


async def sign_in(runtime: Runtime, email: str, ip: str = "203.0.113.1") -> tuple[LoginResult, Viewer]:
    result = await runtime.services.access.login(
        email=email, password=PASSWORD, device_name=None, user_agent=None, ip_address=ip
    )
    return result, await runtime.services.access.authenticate(result.token)


async def event_count(runtime: Runtime, event_type: EventType) -> int:
    async with runtime.database.session() as db:
        query = select(func.count()).select_from(SessionEvent).where(col(SessionEvent.type) == event_type)
        return int((await db.execute(query)).scalar_one())


async def test_own_scope_lists_open_sessions_newest_first(runtime: Runtime, people: People) -> None:
    await people.user("ana@acme.test")
    await people.user("bo@acme.test")
    first, _ = await sign_in(runtime, "ana@acme.test")
    second, viewer = await sign_in(runtime, "ana@acme.test")
    await sign_in(runtime, "bo@acme.test")
    page = await runtime.services.sessions.list_active(viewer, user_id=None, all_users=False, first=50, after=None)
    assert [s.id for s in page.sessions] == [second.session.id, first.session.id]
    assert page.total_count == 2
    assert not page.has_next_page


async def test_pagination_walks_every_session_once(runtime: Runtime, people: People) -> None:
    await people.user("ana@acme.test")
    ids = [(await sign_in(runtime, "ana@acme.test"))[0].session.id for _ in range(5)]
    viewer = await runtime.services.access.authenticate((await sign_in(runtime, "ana@acme.test"))[0].token)
    seen: list[str] = []
    after = None
    while True:
        page = await runtime.services.sessions.list_active(viewer, user_id=None, all_users=False, first=2, after=after)
        seen += [s.id for s in page.sessions]
        assert page.total_count == 6
        if not page.has_next_page:
            break
        after = page.cursors[-1]
    assert len(seen) == 6 and set(ids) <= set(seen)


@pytest.mark.parametrize("first", [-1, 101])
async def test_first_out_of_bounds_is_bad_input(runtime: Runtime, people: People, first: int) -> None:
    await people.user("ana@acme.test")
    _, viewer = await sign_in(runtime, "ana@acme.test")
    with pytest.raises(BadUserInput):
        await runtime.services.sessions.list_active(viewer, user_id=None, all_users=False, first=first, after=None)


async def test_a_forged_cursor_is_bad_input(runtime: Runtime, people: People) -> None:
    await people.user("ana@acme.test")
    _, viewer = await sign_in(runtime, "ana@acme.test")
    with pytest.raises(BadUserInput):
        await runtime.services.sessions.list_active(viewer, user_id=None, all_users=False, first=5, after="%%%")


async def test_administrator_scopes_and_cross_account_isolation(runtime: Runtime, people: People) -> None:
    await people.user("admin@acme.test", admin=True)
    member = await people.user("bo@acme.test")
    outsider = await people.user("eve@other.test", account="other")
    await people.user("root@other.test", admin=True, account="other")
    _, admin = await sign_in(runtime, "admin@acme.test")
    _, bo = await sign_in(runtime, "bo@acme.test")
    await sign_in(runtime, "eve@other.test")
    _, other_admin = await sign_in(runtime, "root@other.test")
    sessions = runtime.services.sessions

    everyone = await sessions.list_active(admin, user_id=None, all_users=True, first=50, after=None)
    assert {s.user.email for s in everyone.sessions} == {"admin@acme.test", "bo@acme.test"}
    just_bo = await sessions.list_active(admin, user_id=member.id, all_users=False, first=50, after=None)
    assert [s.user.email for s in just_bo.sessions] == ["bo@acme.test"]
    with pytest.raises(NotFound):
        await sessions.list_active(admin, user_id=outsider.id, all_users=False, first=50, after=None)
    with pytest.raises(Forbidden):
        await sessions.list_active(bo, user_id=None, all_users=True, first=50, after=None)
    with pytest.raises(Forbidden):
        await sessions.list_active(bo, user_id=outsider.id, all_users=False, first=50, after=None)
    other_everyone = await sessions.list_active(other_admin, user_id=None, all_users=True, first=50, after=None)
    assert {s.user.email for s in other_everyone.sessions} == {"eve@other.test", "root@other.test"}


async def test_end_reasons_follow_who_ends_what(runtime: Runtime, people: People) -> None:
    await people.user("admin@acme.test", admin=True)
    await people.user("bo@acme.test")
    _, admin = await sign_in(runtime, "admin@acme.test")
    bo_phone, bo = await sign_in(runtime, "bo@acme.test")
    bo_laptop, _ = await sign_in(runtime, "bo@acme.test")
    bo_tablet, _ = await sign_in(runtime, "bo@acme.test")
    sessions = runtime.services.sessions

    assert (await sessions.end_session(bo, bo_laptop.session.id)).end_reason is EndReason.REVOKED
    assert (await sessions.end_session(admin, bo_tablet.session.id)).end_reason is EndReason.REVOKED_BY_ADMIN
    ended = await sessions.end_session(bo, bo_phone.session.id)
    assert ended.end_reason is EndReason.LOGGED_OUT
    assert ended.status is SessionStatus.ENDED and ended.ended_at is not None


async def test_unknown_foreign_and_random_ids_are_the_same_not_found(runtime: Runtime, people: People) -> None:
    await people.user("ana@acme.test")
    await people.user("bo@acme.test")
    await people.user("eve@other.test", admin=True, account="other")
    _, ana = await sign_in(runtime, "ana@acme.test")
    bo_session, _ = await sign_in(runtime, "bo@acme.test")
    _, eve = await sign_in(runtime, "eve@other.test")
    messages = set()
    for viewer, target in [
        (ana, bo_session.session.id),
        (eve, bo_session.session.id),
        (ana, str(uuid.uuid4())),
        (ana, "x"),
        (ana, "nul\x00byte"),  # PostgreSQL refuses NUL in text: never sent to it
        (ana, "x" * 1000),
    ]:
        with pytest.raises(NotFound) as caught:
            await runtime.services.sessions.end_session(viewer, target)
        messages.add(caught.value.message)
    assert len(messages) == 1
    assert await event_count(runtime, EventType.ENDED) == 0


async def test_ending_an_ended_session_changes_nothing(runtime: Runtime, people: People) -> None:
    await people.user("ana@acme.test")
    _, ana = await sign_in(runtime, "ana@acme.test")
    other, _ = await sign_in(runtime, "ana@acme.test")
    first = await runtime.services.sessions.end_session(ana, other.session.id)
    again = await runtime.services.sessions.end_session(ana, other.session.id)
    assert again == first
    assert await event_count(runtime, EventType.ENDED) == 1


async def test_concurrent_logouts_of_one_session_emit_one_ended_event(runtime: Runtime, people: People) -> None:
    await people.user("ana@acme.test", admin=True)
    _, ana = await sign_in(runtime, "ana@acme.test")
    _, ana_again = await sign_in(runtime, "ana@acme.test")
    target, _ = await sign_in(runtime, "ana@acme.test")
    results = await asyncio.gather(
        *(runtime.services.sessions.end_session(v, target.session.id) for v in (ana, ana_again, ana, ana_again))
    )
    assert {r.ended_at for r in results} == {results[0].ended_at}
    assert await event_count(runtime, EventType.ENDED) == 1


async def test_logout_other_sessions_keeps_the_calling_one(runtime: Runtime, people: People) -> None:
    await people.user("ana@acme.test")
    await people.user("bo@acme.test")
    others = [(await sign_in(runtime, "ana@acme.test"))[0].session.id for _ in range(3)]
    _, ana = await sign_in(runtime, "ana@acme.test")
    await sign_in(runtime, "bo@acme.test")
    ended = await runtime.services.sessions.end_other_sessions(ana)
    assert sorted(s.id for s in ended) == sorted(others)
    assert all(s.end_reason is EndReason.REVOKED for s in ended)
    page = await runtime.services.sessions.list_active(ana, user_id=None, all_users=False, first=10, after=None)
    assert [s.id for s in page.sessions] == [ana.session_id]
    assert await event_count(runtime, EventType.ENDED) == 3


async def test_sweeps_on_two_instances_end_each_expired_session_once(
    make_settings: Callable[..., Settings], people_factory: Callable[[Runtime], People]
) -> None:
    settings = make_settings(absolute_lifetime_seconds=0.5)
    async with open_runtime(settings, run_sweeper=False) as one, open_runtime(settings, run_sweeper=False) as two:
        await people_factory(one).user("ana@acme.test")
        for _ in range(4):
            await sign_in(one, "ana@acme.test")
        await asyncio.sleep(0.7)
        results = await asyncio.gather(one.sweeper.sweep_once(), two.sweeper.sweep_once())
        assert sum(r.expired for r in results) == 4
        assert await event_count(one, EventType.ENDED) == 4


async def test_idle_sessions_become_idle_then_active_again(
    make_settings: Callable[..., Settings], people_factory: Callable[[Runtime], People]
) -> None:
    async with open_runtime(make_settings(idle_window_seconds=0.3), run_sweeper=False) as runtime:
        await people_factory(runtime).user("ana@acme.test")
        result, _ = await sign_in(runtime, "ana@acme.test")
        await asyncio.sleep(0.5)
        assert (await runtime.sweeper.sweep_once()).idled == 1
        assert (await runtime.sweeper.sweep_once()).idled == 0
        await runtime.services.access.authenticate(result.token)
        async with runtime.database.session() as db:
            updates = (
                (
                    await db.execute(
                        select(SessionEvent)
                        .where(col(SessionEvent.type) == EventType.UPDATED)
                        .order_by(col(SessionEvent.id))
                    )
                )
                .scalars()
                .all()
            )
        assert [u.snapshot.count('"status":"IDLE"') for u in updates] == [1, 0]
        assert '"status":"ACTIVE"' in updates[1].snapshot
