"""The concurrent-session limit (`MAX_SESSIONS_PER_USER`) and the new-device check, both made inside the login's
transaction.

The limit is atomic: the login locks its user's row (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite's
`BEGIN IMMEDIATE` already serialises writers), so racing logins of one user count and end sessions one after
another and never leave more than the limit granting access."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import EndReason, LoginSession, User
from services.records import EventRecord, SessionRecord
from services.session_store import end_where


async def make_room(
    db: AsyncSession, *, user_id: str, limit: int, now: datetime
) -> tuple[list[SessionRecord], list[EventRecord]]:
    """End the least recently used sessions of the user so that one more stays within `limit` (0: no limit)."""
    if limit <= 0:
        return [], []
    await db.execute(select(col(User.id)).where(col(User.id) == user_id).with_for_update())
    open_ids = (
        (
            await db.execute(
                select(col(LoginSession.id))
                .where(
                    col(LoginSession.user_id) == user_id,
                    col(LoginSession.ended_at).is_(None),
                    col(LoginSession.expires_at) > now,
                )
                .order_by(col(LoginSession.last_seen_at), col(LoginSession.created_at), col(LoginSession.id))
            )
        )
        .scalars()
        .all()
    )
    excess = len(open_ids) - limit + 1
    if excess <= 0:
        return [], []
    return await end_where(db, col(LoginSession.id).in_(open_ids[:excess]), EndReason.SESSION_LIMIT, now)


async def is_new_device(db: AsyncSession, *, user_id: str, family: str, since: datetime) -> bool:
    """True when the user has no session since `since` (retention) from a device of this family."""
    seen = (
        select(col(LoginSession.id))
        .where(
            col(LoginSession.user_id) == user_id,
            col(LoginSession.device_family) == family,
            col(LoginSession.created_at) >= since,
        )
        .limit(1)
    )
    return (await db.execute(seen)).first() is None
