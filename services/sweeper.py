"""The periodic sweep: ACTIVE sessions unused for the idle window become IDLE, expired ones end.

Every change is a conditional update, so sweeps running on several instances change each session once."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_

from core.clock import utc_now
from core.database import Database
from core.errors import ServiceUnavailable
from core.settings import Settings
from models import EndReason, LoginSession, SessionStatus
from services.event_log import EventPublisher
from services.session_store import end_where, set_status_where

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SweepResult:
    idled: int
    expired: int


class Sweeper:
    def __init__(self, database: Database, publisher: EventPublisher, settings: Settings) -> None:
        self._database = database
        self._publisher = publisher
        self._settings = settings

    async def sweep_once(self) -> SweepResult:
        now = utc_now()
        async with self._database.session() as db, db.begin():
            expired, expired_events = await end_where(db, LoginSession.expires_at <= now, EndReason.EXPIRED, now)  # type: ignore[arg-type]
            idle_since = now - timedelta(seconds=self._settings.idle_window_seconds)
            idled, idle_events = await set_status_where(
                db,
                and_(LoginSession.status == SessionStatus.ACTIVE, LoginSession.last_seen_at <= idle_since),  # type: ignore[arg-type]
                SessionStatus.IDLE,
            )
        await self._publisher.publish([*expired_events, *idle_events])
        return SweepResult(idled=len(idled), expired=len(expired))

    async def run_forever(self) -> None:
        while True:
            try:
                await self.sweep_once()
            except ServiceUnavailable:
                log.warning("session sweep skipped: database unavailable")
            except Exception:
                log.exception("session sweep failed")
            await asyncio.sleep(self._settings.sweep_interval_seconds)
