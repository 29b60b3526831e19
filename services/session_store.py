"""Row-level helpers shared by the session services: loading, and the conditional updates that end or
change a session exactly once (so concurrent writers race harmlessly)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import Account, EndReason, EventType, LoginSession, SessionStatus, User
from services.event_log import append_events
from services.records import EventRecord, SessionRecord, UserRecord, session_record, user_record


async def load_session(db: AsyncSession, session_id: str) -> SessionRecord | None:
    row = (
        await db.execute(
            select(LoginSession, User).join(User, User.id == LoginSession.user_id).where(LoginSession.id == session_id)  # type: ignore[arg-type]
        )
    ).first()
    if row is None:
        return None
    session, user = row
    enders = await _users(db, {session.ended_by_user_id} if session.ended_by_user_id else set())
    return session_record(session, user_record(user), enders.get(session.ended_by_user_id or ""))


async def ended_by_of(db: AsyncSession, ender_ids: set[str | None]) -> dict[str, UserRecord]:
    """The users who ended sessions (`ended_by_user_id` values), by id; None values are skipped."""
    return await _users(db, {key for key in ender_ids if key})


async def end_where(
    db: AsyncSession,
    condition: ColumnElement[bool],
    reason: EndReason,
    now: datetime,
    *,
    ended_by: UserRecord | None = None,
) -> tuple[list[SessionRecord], list[EventRecord]]:
    """End every open session matching `condition`; one ENDED event per session actually ended.
    `ended_by`: the person ending them (None for expiry and limits)."""
    statement = (
        update(LoginSession)
        .where(condition, LoginSession.ended_at.is_(None))  # type: ignore[union-attr]
        .values(
            ended_at=now,
            end_reason=reason,
            status=SessionStatus.ENDED,
            ended_by_user_id=ended_by.id if ended_by else None,
        )
        .returning(LoginSession)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    rows = list((await db.execute(statement)).scalars().all())
    records, events = await _with_events(db, rows, EventType.ENDED, ended_by)
    await count_open_sessions(db, records, -1)
    return records, events


async def set_status_where(
    db: AsyncSession, condition: ColumnElement[bool], status: SessionStatus
) -> tuple[list[SessionRecord], list[EventRecord]]:
    """Move open sessions matching `condition` to `status`; one UPDATED event per session changed."""
    statement = (
        update(LoginSession)
        .where(condition, LoginSession.ended_at.is_(None), LoginSession.status != status)  # type: ignore[union-attr,arg-type]
        .values(status=status)
        .returning(LoginSession)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    rows = list((await db.execute(statement)).scalars().all())
    return await _with_events(db, rows, EventType.UPDATED)


async def _with_events(
    db: AsyncSession, rows: Sequence[LoginSession], event_type: EventType, ended_by: UserRecord | None = None
) -> tuple[list[SessionRecord], list[EventRecord]]:
    if not rows:
        return [], []
    users = await _users(db, {row.user_id for row in rows})
    # Sorted by account so concurrent multi-account writers take account locks in one order.
    records = sorted(
        (session_record(row, users[row.user_id], ended_by) for row in rows), key=lambda r: (r.user.account_id, r.id)
    )
    actor_user_id = ended_by.id if ended_by is not None else None
    return records, await append_events(db, event_type, records, actor_user_id=actor_user_id)


async def count_open_sessions(db: AsyncSession, sessions: Iterable[SessionRecord], change: int) -> None:
    """Add `change` (+1 opened, -1 ended) per session to its account's and its user's `open_sessions`, in the
    caller's transaction. Accounts first, then users, each in sorted order: every writer locks in one order."""
    accounts = Counter(session.user.account_id for session in sessions)
    users = Counter(session.user.id for session in sessions)
    for account_id in sorted(accounts):
        await db.execute(
            update(Account)
            .where(col(Account.id) == account_id)
            .values(open_sessions=col(Account.open_sessions) + change * accounts[account_id])
        )
    for user_id in sorted(users):
        counted = col(User.open_sessions) + change * users[user_id]
        await db.execute(update(User).where(col(User.id) == user_id).values(open_sessions=counted))


async def _users(db: AsyncSession, user_ids: set[str]) -> dict[str, UserRecord]:
    rows = (await db.execute(select(User).where(User.id.in_(user_ids)))).scalars().all()  # type: ignore[attr-defined]
    return {row.id: user_record(row) for row in rows}
