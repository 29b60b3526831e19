"""The session-event table: written in the changing transaction, read to replay and to fill gaps."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Protocol

from sqlalchemy import BindParameter, ScalarSelect, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.clock import utc_now
from core.database import Database
from models import Account, EventType, SessionEvent
from services.records import EventRecord, SessionRecord, event_record, session_to_dict

MAX_REPLAY_BATCH = 500


class EventPublisher(Protocol):
    """Carries committed events to every instance (implemented by the bus hub)."""

    async def publish(self, events: Sequence[EventRecord]) -> None: ...


async def append_event(
    db: AsyncSession, event_type: EventType, session: SessionRecord, *, actor_user_id: str | None = None
) -> EventRecord:
    """Add one event in the caller's transaction. The account row update serialises an account's writers,
    so an account's `seq` (and `id`) order is its commit order. `actor_user_id`: the user who ended the session
    (None when nobody did, e.g. expiry)."""
    account_id = session.user.account_id
    seq = (
        await db.execute(
            update(Account)
            .where(Account.id == account_id)  # type: ignore[arg-type]
            .values(event_seq=col(Account.event_seq) + 1)
            .returning(col(Account.event_seq))
        )
    ).scalar_one()
    row = SessionEvent(
        account_id=account_id,
        seq=seq,
        session_id=session.id,
        user_id=session.user.id,
        type=event_type,
        occurred_at=utc_now(),
        snapshot=json.dumps(session_to_dict(session), separators=(",", ":")),
        actor_user_id=actor_user_id,
    )
    db.add(row)
    await db.flush()
    return event_record(row)


def latest_event_id_of(account_id: str | BindParameter[str]) -> ScalarSelect[int | None]:
    """The account's newest event id (NULL: none yet), to read beside other columns in one statement."""
    return select(func.max(col(SessionEvent.id))).where(col(SessionEvent.account_id) == account_id).scalar_subquery()


class EventLog:
    """Reads of the event table."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def after_id(
        self, *, account_id: str, after_id: int, user_id: str | None, limit: int = MAX_REPLAY_BATCH
    ) -> list[EventRecord]:
        query = select(SessionEvent).where(SessionEvent.account_id == account_id, SessionEvent.id > after_id)  # type: ignore[arg-type,operator]
        if user_id is not None:
            query = query.where(SessionEvent.user_id == user_id)  # type: ignore[arg-type]
        return await self._fetch(query.order_by(SessionEvent.id).limit(limit))  # type: ignore[arg-type]

    async def after_seq(self, *, account_id: str, after_seq: int, limit: int = MAX_REPLAY_BATCH) -> list[EventRecord]:
        query = (
            select(SessionEvent)
            .where(col(SessionEvent.account_id) == account_id, col(SessionEvent.seq) > after_seq)
            .order_by(col(SessionEvent.seq))
            .limit(limit)
        )
        return await self._fetch(query)

    async def latest_seqs(self, account_ids: Iterable[str]) -> dict[str, int]:
        ids = list(account_ids)
        if not ids:
            return {}
        async with self._database.session() as db:
            rows = await db.execute(select(col(Account.id), col(Account.event_seq)).where(col(Account.id).in_(ids)))
            return {account_id: seq for account_id, seq in rows.all()}

    async def pruned_through(self, account_id: str) -> int:
        """The newest event id of the account that retention has deleted (0: none)."""
        async with self._database.session() as db:
            query = select(col(Account.pruned_through_event_id)).where(col(Account.id) == account_id)
            return int((await db.execute(query)).scalar_one_or_none() or 0)

    async def _fetch(self, query: object) -> list[EventRecord]:
        async with self._database.session() as db:
            rows = (await db.execute(query)).scalars().all()  # type: ignore[call-overload]
            return [event_record(row) for row in rows]
