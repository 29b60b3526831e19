"""The periodic sweep: ACTIVE sessions unused for the idle window become IDLE, expired ones end.

Every change is a conditional update, so sweeps running on several instances change each session once. The
sweep works in short batches (`SWEEP_BATCH_SIZE` sessions per transaction), each picking its due sessions by
index (`ix_login_session_expiry_due`, `ix_login_session_idle_due`) and, on PostgreSQL, skipping rows another
transaction holds (`FOR UPDATE SKIP LOCKED`: a logout, or another instance's sweep). A batch locks its
accounts' event sequence only for its last statements, so a logout waits at most for one batch, never for
the whole sweep; each batch's events are published after its commit, a few at a time (`publish_in_chunks`),
and the sweep yields to the event loop between batches."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, Select, bindparam, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.clock import utc_now
from core.database import Database
from core.errors import ServiceUnavailable
from core.settings import Settings
from models import EndReason, LoginSession, SessionStatus
from services.event_log import EventPublisher, publish_in_chunks
from services.records import EventRecord
from services.session_store import end_where, set_status_where

log = logging.getLogger(__name__)

# Literal conditions (not bound values) so the planner always matches them to the partial indexes.
_OPEN = col(LoginSession.ended_at).is_(None)
_ACTIVE = col(LoginSession.status) == literal_column(f"'{SessionStatus.ACTIVE.value}'")

# Up to `limit` open sessions past their expiry (`now`), earliest first.
EXPIRED_DUE: Select[Any] = (
    select(col(LoginSession.id))
    .where(_OPEN, col(LoginSession.expires_at) <= bindparam("now"))
    .order_by(col(LoginSession.expires_at))
    .limit(bindparam("limit", type_=Integer))
    .with_for_update(skip_locked=True)
)
# Up to `limit` ACTIVE sessions unused since `idle_since`, longest unused first.
IDLE_DUE: Select[Any] = (
    select(col(LoginSession.id))
    .where(_OPEN, _ACTIVE, col(LoginSession.last_seen_at) <= bindparam("idle_since"))
    .order_by(col(LoginSession.last_seen_at))
    .limit(bindparam("limit", type_=Integer))
    .with_for_update(skip_locked=True)
)


@dataclass(frozen=True, slots=True)
class SweepResult:
    idled: int
    expired: int
    batches: int = 0


Batch = Callable[[AsyncSession, list[str]], Awaitable[list[EventRecord]]]


class Sweeper:
    def __init__(self, database: Database, publisher: EventPublisher, settings: Settings) -> None:
        self._database = database
        self._publisher = publisher
        self._settings = settings

    async def sweep_once(self) -> SweepResult:
        now = utc_now()
        idle_since = now - timedelta(seconds=self._settings.idle_window_seconds)
        expired, expired_batches = await self._in_batches(EXPIRED_DUE, {"now": now}, self._expire(now))
        idled, idle_batches = await self._in_batches(IDLE_DUE, {"idle_since": idle_since}, self._idle(idle_since))
        return SweepResult(idled=idled, expired=expired, batches=expired_batches + idle_batches)

    async def run_forever(self) -> None:
        while True:
            try:
                await self.sweep_once()
            except ServiceUnavailable:
                log.warning("session sweep skipped: database unavailable")
            except Exception:
                log.exception("session sweep failed")
            await asyncio.sleep(self._settings.sweep_interval_seconds)

    async def _in_batches(self, due: Select[Any], values: dict[str, Any], change: Batch) -> tuple[int, int]:
        """Run `change` on due sessions, one short transaction per batch, until a batch finds fewer than a
        full batch due (or changes none of one); returns (sessions changed, transactions)."""
        limit = self._settings.sweep_batch_size
        changed = batches = 0
        while True:
            async with self._database.session() as db, db.begin():
                ids = list((await db.execute(due, {**values, "limit": limit})).scalars().all())
                events = await change(db, ids) if ids else []
            batches += 1
            changed += len(events)
            await publish_in_chunks(self._publisher, events)
            if len(ids) < limit or not events:
                return changed, batches
            await asyncio.sleep(0)  # let requests in between batches

    @staticmethod
    def _expire(now: datetime) -> Batch:
        async def change(db: AsyncSession, ids: list[str]) -> list[EventRecord]:
            condition = col(LoginSession.id).in_(ids) & (col(LoginSession.expires_at) <= now)
            return (await end_where(db, condition, EndReason.EXPIRED, now))[1]

        return change

    @staticmethod
    def _idle(idle_since: datetime) -> Batch:
        async def change(db: AsyncSession, ids: list[str]) -> list[EventRecord]:
            condition = (
                col(LoginSession.id).in_(ids)
                & (col(LoginSession.status) == SessionStatus.ACTIVE)
                & (col(LoginSession.last_seen_at) <= idle_since)
            )
            return (await set_status_where(db, condition, SessionStatus.IDLE))[1]

        return change
