"""The feed of ended sessions for gateways: read from the event table, so nothing is lost to a bus fault.

`follow` polls the table (one indexed range read per `poll_interval`, per follower, whatever the number of
sessions or subscriptions behind it) and yields each ENDED event once. Event ids are allocated before commit, so
an id can become visible after a higher one; the cursor it hands out (`settled`) therefore trails the newest id
seen by `settle_seconds`, and everything above it is read again and deduplicated. A follower that resumes from
a cursor gets every end committed after it, possibly a few it already had (ending a session twice is harmless)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select
from sqlmodel import col

from core.database import Database
from models import EventType, SessionEvent
from services.records import AnyRow

BATCH = 1000

_ENDED_COLUMNS = (col(SessionEvent.id), col(SessionEvent.session_id), col(SessionEvent.account_id))
ENDED_AFTER = (
    select(*_ENDED_COLUMNS)
    .where(col(SessionEvent.id) > bindparam("after"), col(SessionEvent.type) == EventType.ENDED.value)
    .order_by(col(SessionEvent.id))
    .limit(BATCH)
)
ENDED_AFTER_IN_ACCOUNT = (
    select(*_ENDED_COLUMNS)
    .where(
        col(SessionEvent.id) > bindparam("after"),
        col(SessionEvent.type) == EventType.ENDED.value,
        col(SessionEvent.account_id) == bindparam("account_id"),
    )
    .order_by(col(SessionEvent.id))
    .limit(BATCH)
)
HEAD = select(func.max(col(SessionEvent.id)))


@dataclass(frozen=True, slots=True)
class Ended:
    event_id: int
    session_id: str
    account_id: str
    cursor: int  # resume from here to miss nothing


@dataclass(frozen=True, slots=True)
class Heartbeat:
    cursor: int


FeedItem = Ended | Heartbeat


class EndedSessionFeed:
    def __init__(
        self,
        database: Database,
        *,
        poll_interval: float = 0.2,
        settle_seconds: float = 5.0,
        heartbeat_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._database = database
        self._poll_interval = poll_interval
        self._settle_seconds = settle_seconds
        self._heartbeat_seconds = heartbeat_seconds
        self._clock = clock

    async def head(self) -> int:
        """The newest event id now: a follower starting without a cursor starts here."""
        async with self._database.read_connection() as connection:
            newest = (await connection.execute(HEAD)).scalar_one_or_none()
        return int(newest or 0)

    async def follow(self, *, after: int, account_id: str | None) -> AsyncIterator[FeedItem]:
        """Every end committed after `after` (of one account, or of all), then each new one; a heartbeat
        every `heartbeat_seconds` carries the cursor. Runs until the caller stops iterating; a database
        failure ends it with `ServiceUnavailable`."""
        settled = after
        seen: deque[tuple[float, int]] = deque()  # (when, newest id then): the cursor trails by settle_seconds
        sent: set[int] = set()
        last_beat: float | None = None
        while True:
            rows = await self._read(settled, account_id)
            now = self._clock()
            newest = settled
            for row in rows:
                newest = max(newest, int(row.id))
                if row.id not in sent:
                    sent.add(int(row.id))
                    yield Ended(int(row.id), str(row.session_id), str(row.account_id), settled)
            seen.append((now, newest))
            while seen and seen[0][0] <= now - self._settle_seconds:
                settled = max(settled, seen.popleft()[1])
            sent = {event_id for event_id in sent if event_id > settled}
            if last_beat is None or now - last_beat >= self._heartbeat_seconds:
                last_beat = now
                yield Heartbeat(settled)
            await asyncio.sleep(self._poll_interval)

    async def _read(self, after: int, account_id: str | None) -> list[AnyRow]:
        async with self._database.read_connection() as connection:
            if account_id is None:
                result = await connection.execute(ENDED_AFTER, {"after": after})
            else:
                result = await connection.execute(ENDED_AFTER_IN_ACCOUNT, {"after": after, "account_id": account_id})
            return list(result.all())
