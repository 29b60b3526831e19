"""The session-event table: written in the changing transaction, read to replay and to fill gaps."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any, Protocol

from sqlalchemy import BindParameter, Integer, ScalarSelect, Select, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.clock import utc_now
from core.database import Database
from models import Account, EventType, SessionEvent
from services.records import EventRecord, SessionRecord, event_record, session_to_dict

MAX_REPLAY_BATCH = 500
PUBLISH_CHUNK = 50  # events handed to the publisher (and delivered here) per turn of the event loop


class EventPublisher(Protocol):
    """Carries committed events to every instance (implemented by the bus hub)."""

    async def publish(self, events: Sequence[EventRecord]) -> None: ...


async def append_event(
    db: AsyncSession, event_type: EventType, session: SessionRecord, *, actor_user_id: str | None = None
) -> EventRecord:
    """Add one event in the caller's transaction (see `append_events`)."""
    return (await append_events(db, event_type, [session], actor_user_id=actor_user_id))[0]


async def append_events(
    db: AsyncSession, event_type: EventType, sessions: Sequence[SessionRecord], *, actor_user_id: str | None = None
) -> list[EventRecord]:
    """Add one event per session in the caller's transaction, in the order given. The account row update
    serialises an account's writers, so an account's `seq` (and `id`) order is its commit order. Each account's
    row is updated once (its `seq` bumped by its number of events) and locked only from there to the commit:
    snapshots are serialised before, and the caller commits right after. `actor_user_id`: the user who ended the
    sessions (None when nobody did, e.g. expiry)."""
    occurred_at = utc_now()
    by_account: dict[str, list[tuple[SessionRecord, str]]] = {}
    for session in sessions:
        snapshot = json.dumps(session_to_dict(session), separators=(",", ":"))
        by_account.setdefault(session.user.account_id, []).append((session, snapshot))
    rows: list[SessionEvent] = []
    for account_id in sorted(by_account):  # one lock order for every multi-account writer
        batch = by_account[account_id]
        last_seq = (
            await db.execute(
                update(Account)
                .where(col(Account.id) == account_id)
                .values(event_seq=col(Account.event_seq) + len(batch))
                .returning(col(Account.event_seq))
            )
        ).scalar_one()
        first_seq = last_seq - len(batch) + 1
        rows += [
            SessionEvent(
                account_id=account_id,
                seq=first_seq + index,
                session_id=session.id,
                user_id=session.user.id,
                type=event_type,
                occurred_at=occurred_at,
                snapshot=snapshot,
                actor_user_id=actor_user_id,
            )
            for index, (session, snapshot) in enumerate(batch)
        ]
    db.add_all(rows)
    await db.flush()
    return [event_record(row) for row in rows]


async def publish_in_chunks(publisher: EventPublisher, events: Sequence[EventRecord]) -> None:
    """Hand many events to the publisher a few at a time, yielding to the event loop between chunks: a sweep's
    thousands of events never hold up requests (or one socket's delivery) for long."""
    for start in range(0, len(events), PUBLISH_CHUNK):
        await publisher.publish(events[start : start + PUBLISH_CHUNK])
        await asyncio.sleep(0)


def latest_event_id_of(account_id: str | BindParameter[str]) -> ScalarSelect[int | None]:
    """The account's newest event id (NULL: none yet), to read beside other columns in one statement."""
    return select(func.max(col(SessionEvent.id))).where(col(SessionEvent.account_id) == account_id).scalar_subquery()


@cache
def replay_statement(*, own_scope: bool) -> Select[Any]:
    """Up to `limit` events of `account_id` after `after_id`, oldest first; `own_scope`: of `user_id` only.
    Served by `ix_session_event_account_id` (account) or `ix_session_event_account_user_id` (own scope)."""
    query = select(SessionEvent).where(
        col(SessionEvent.account_id) == bindparam("account_id"), col(SessionEvent.id) > bindparam("after_id")
    )
    if own_scope:
        query = query.where(col(SessionEvent.user_id) == bindparam("user_id"))
    return query.order_by(col(SessionEvent.id)).limit(bindparam("limit", type_=Integer))


class EventLog:
    """Reads of the event table."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def after_id(
        self, *, account_id: str, after_id: int, user_id: str | None, limit: int = MAX_REPLAY_BATCH
    ) -> list[EventRecord]:
        values = {"account_id": account_id, "after_id": after_id, "limit": limit}
        if user_id is not None:
            values["user_id"] = user_id
        async with self._database.session() as db:
            rows = (await db.execute(replay_statement(own_scope=user_id is not None), values)).scalars().all()
            return [event_record(row) for row in rows]

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
