"""Retention: ended sessions and old events are deleted in small batches, so requests never wait long.

Each account remembers the newest event id it lost (`pruned_through_event_id`), so a client resuming from an
older cursor is told to start afresh instead of silently missing events."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, exists, select, update
from sqlmodel import col

from core.clock import utc_now
from core.database import Database
from core.settings import Settings
from models import Account, LoginSession, SessionEvent

log = logging.getLogger(__name__)


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
        while (batch := await self._prune_sessions(cutoff)) > 0:
            sessions += batch
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
            rows = (
                await db.execute(
                    select(col(SessionEvent.id), col(SessionEvent.account_id))
                    .where(col(SessionEvent.occurred_at) < cutoff)
                    .order_by(col(SessionEvent.id))
                    .limit(self._settings.prune_batch_size)
                )
            ).all()
            if not rows:
                return 0
            newest: dict[str, int] = {}
            for event_id, account_id in rows:
                newest[account_id] = max(newest.get(account_id, 0), event_id or 0)
            for account_id in sorted(newest):
                pruned = col(Account.pruned_through_event_id)
                await db.execute(
                    update(Account)
                    .where(col(Account.id) == account_id)
                    .values(
                        pruned_through_event_id=case((pruned < newest[account_id], newest[account_id]), else_=pruned)
                    )
                )
            await db.execute(delete(SessionEvent).where(col(SessionEvent.id).in_([row[0] for row in rows])))
            return len(rows)

    async def _prune_sessions(self, cutoff: datetime) -> int:
        async with self._database.session() as db, db.begin():
            has_events = exists().where(col(SessionEvent.session_id) == col(LoginSession.id))
            ids = (
                (
                    await db.execute(
                        select(col(LoginSession.id))
                        .where(col(LoginSession.ended_at) < cutoff, ~has_events)
                        .limit(self._settings.prune_batch_size)
                    )
                )
                .scalars()
                .all()
            )
            if not ids:
                return 0
            await db.execute(delete(LoginSession).where(col(LoginSession.id).in_(ids)))
            return len(ids)
