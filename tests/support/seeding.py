"""Many sessions at once, written straight into the tables (a login costs an argon2 check: ~0.2 s each).

The open-session counters are bumped in the same transaction, as the service itself does."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col

from core.clock import utc_now
from core.database import Database
from core.tokens import hash_token
from models import Account, LoginSession, User
from services.records import UserRecord

CHUNK = 500


async def seed_sessions(
    database: Database,
    user: UserRecord,
    count: int,
    *,
    last_seen_at: datetime | None = None,
    expires_at: datetime | None = None,
) -> list[str]:
    """`count` open sessions of `user`, created a millisecond apart (newest last); returns their ids."""
    now = utc_now()
    ids = [str(uuid.uuid4()) for _ in range(count)]
    rows: list[dict[str, Any]] = [
        {
            "id": session_id,
            "token_hash": hash_token(f"seeded-{session_id}"),
            "user_id": user.id,
            "account_id": user.account_id,
            "device_type": "DESKTOP",
            "device_label": "Chrome 131 on macOS",
            "browser": "Chrome 131",
            "os": "macOS",
            "user_agent": "seeded",
            "ip_address": "192.0.2.1",
            "status": "ACTIVE",
            "created_at": now - timedelta(milliseconds=count - index),
            "last_seen_at": last_seen_at or now,
            "expires_at": expires_at or now + timedelta(days=14),
            "ended_at": None,
            "end_reason": None,
        }
        for index, session_id in enumerate(ids)
    ]
    table = LoginSession.__table__  # type: ignore[attr-defined]
    for start in range(0, count, CHUNK):
        chunk = rows[start : start + CHUNK]
        async with database.session() as db, db.begin():
            await db.execute(table.insert(), chunk)
            opened = col(Account.open_sessions) + len(chunk)
            await db.execute(update(Account).where(col(Account.id) == user.account_id).values(open_sessions=opened))
            await db.execute(
                update(User).where(col(User.id) == user.id).values(open_sessions=col(User.open_sessions) + len(chunk))
            )
    return ids
