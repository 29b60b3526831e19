"""Retention: ended sessions and old events are deleted in small batches, so requests never wait long.

Each batch is one short transaction: due rows picked by index (`ix_session_event_occurred_at`,
`ix_login_session_ended`; on PostgreSQL skipping rows another instance's pruning holds), deleted, and only then
the accounts' rows updated, so an account's row (which its writers lock to number their events) is held just
for that update and the commit. The pruning yields to the event loop between batches.

Each account remembers the newest event id it lost (`pruned_through_event_id`), so a client resuming from an
older cursor is told to start afresh instead of silently missing events."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, Select, bindparam, case, delete, exists, select, update
from sqlmodel import col

from core.clock import utc_now
from core.database import Database
from core.settings import Settings
from models import Account, LoginSession, SessionEvent

log = logging.getLogger(__name__)

# Up to `limit` events older than `cutoff`, oldest first (in the index's order: with nothing due, the scan
# stops at once instead of walking the table).
DUE_EVENTS = (
    select(col(SessionEvent.id), col(SessionEvent.account_id))
    .where(col(SessionEvent.occurred_at) < bindparam("cutoff"))
    .order_by(col(SessionEvent.occurred_at))
    .limit(bindparam("limit", type_=Integer))
    .with_for_update(skip_locked=True)
)
# Up to `limit` sessions ended before `cutoff` with no event left (their events go first).
DUE_SESSIONS: Select[Any] = (
    select(col(LoginSession.id))
    .where(
        col(LoginSession.ended_at) < bindparam("cutoff"),
        ~exists().where(col(SessionEvent.session_id) == col(LoginSession.id)),
    )
    .order_by(col(LoginSession.ended_at))
    .limit(bindparam("limit", type_=Integer))
    .with_for_update(skip_locked=True)
)


@dataclass(frozen=True, slots=True)
class PruneResult:
    events: int
    sessions: int


class Retention:
    def __init__(self, database: Database, settings: Settings) -> None:
        self._database = database
        self._settings = settings

    async def prune_once(self) -> PruneResult:
        cutoff = utc_now() - timedelta(days=self._settings.retention_days)
        events = sessions = 0
        while (batch := await self._prune_events(cutoff)) > 0:
            events += batch
            await asyncio.sleep(0)
        while (batch := await self._prune_sessions(cutoff)) > 0:
            sessions += batch
            await asyncio.sleep(0)
        if events or sessions:
            log.info("retention pruned %d events and %d ended sessions", events, sessions)
        return PruneResult(events=events, sessions=sessions)

    async def run_forever(self) -> None:
        while True:
            await asyncio.sleep(self._settings.prune_interval_seconds)
            try:
                await self.prune_once()
            except Exception:
                log.exception("retention pruning failed; will retry")

    async def _prune_events(self, cutoff: datetime) -> int:
        async with self._database.session() as db, db.begin():
            rows = (await db.execute(DUE_EVENTS, {"cutoff": cutoff, "limit": self._settings.prune_batch_size})).all()
            if not rows:
                return 0
            newest: dict[str, int] = {}
            for event_id, account_id in rows:
                newest[account_id] = max(newest.get(account_id, 0), event_id or 0)
            await db.execute(delete(SessionEvent).where(col(SessionEvent.id).in_([row[0] for row in rows])))
            for account_id in sorted(newest):  # last: the account rows stay locked until the commit
                pruned = col(Account.pruned_through_event_id)
                await db.execute(
                    update(Account)
                    .where(col(Account.id) == account_id)
                    .values(
                        pruned_through_event_id=case((pruned < newest[account_id], newest[account_id]), else_=pruned)
                    )
                )
            return len(rows)

    async def _prune_sessions(self, cutoff: datetime) -> int:
        async with self._database.session() as db, db.begin():
            values = {"cutoff": cutoff, "limit": self._settings.prune_batch_size}
            ids = (await db.execute(DUE_SESSIONS, values)).scalars().all()
            if not ids:
                return 0
            await db.execute(delete(LoginSession).where(col(LoginSession.id).in_(ids)))
            return len(ids)
