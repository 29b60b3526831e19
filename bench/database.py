"""A fresh PostgreSQL database per run (dropped afterwards), migrated by the service's own migrations, and
seeded in bulk: accounts, users and open sessions with known bearer tokens.

Sessions are written straight into `login_session` (only the SHA-256 of each token, as the service stores
them) rather than through the `login` mutation: a login costs one argon2id verification (RFC 9106
low-memory profile, 100-300 ms on these 2 cores), so 10,000 logins would take most of an hour. Each
phase's operator still logs in through the real mutation."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import SQLModel

import models  # noqa: F401 (registers the tables on SQLModel.metadata)
from core.database import migrate_to_latest
from core.passwords import hash_password
from core.tokens import hash_token, new_token

POSTGRES_HOST = os.environ.get("BENCH_POSTGRES_HOST", "127.0.0.1")
POSTGRES_PORT = int(os.environ.get("BENCH_POSTGRES_PORT", "5432"))
POSTGRES_USER = os.environ.get("BENCH_POSTGRES_USER", "postgres")
PASSWORD = "correct horse battery"
CHROME_ON_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
CHUNK = 2000


def postgres_url(database: str) -> str:
    return f"postgresql+asyncpg://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{database}"


async def _admin_connection() -> Any:
    try:
        return await asyncpg.connect(host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER, database="postgres")
    except (OSError, asyncpg.PostgresError) as exc:
        raise RuntimeError(f"PostgreSQL is required at {POSTGRES_HOST}:{POSTGRES_PORT}: {exc}") from exc


@asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """Create `as_bench_<random>`, migrate it, yield its URL, drop it (and its connections) afterwards."""
    name = f"as_bench_{uuid.uuid4().hex[:12]}"
    admin = await _admin_connection()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        url = postgres_url(name)
        await migrate_to_latest(url)
        yield url
    finally:
        admin = await _admin_connection()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@dataclass(frozen=True)
class SeededSession:
    id: str
    token: str
    user_id: str


@dataclass(frozen=True)
class SeededAccount:
    name: str
    id: str
    operator_email: str  # an administrator with the real password: logs in through the mutation
    admin_sessions: list[SeededSession]  # the subscribers' sessions (administrators of the account)
    victim_sessions: list[SeededSession]  # a member's sessions, ended one per trial


class Seeder:
    def __init__(self, database_url: str) -> None:
        self._engine: AsyncEngine = create_async_engine(database_url)
        self._password_hash = hash_password(PASSWORD)
        self._tables: dict[str, Table] = dict(SQLModel.metadata.tables)

    async def close(self) -> None:
        await self._engine.dispose()

    async def account(
        self, name: str, *, admins: int, admin_users: int = 10, victims: int = 0, victim_users: int = 1
    ) -> SeededAccount:
        """An account with `admins` open administrator sessions spread over `admin_users` administrators,
        one operator administrator (no session yet) and `victims` open sessions of `victim_users` members."""
        now = datetime.now(UTC)
        account_id = str(uuid.uuid4())
        await self._insert("account", [{"id": account_id, "name": name, "event_seq": 0, "created_at": now}])
        admin_ids = await self._users(account_id, name, "admin", max(1, min(admin_users, admins)), admin=True)
        operator_email = f"operator@{name}.bench"
        await self._insert("user", [self._user_row(account_id, operator_email, admin=True, now=now)])
        member_ids = await self._users(account_id, name, "member", max(1, victim_users), admin=False)
        admin_sessions = await self._sessions(account_id, admin_ids, admins) if admins else []
        victim_sessions = await self._sessions(account_id, member_ids, victims) if victims else []
        return SeededAccount(name, account_id, operator_email, admin_sessions, victim_sessions)

    async def user_with_sessions(self, account: SeededAccount, email_name: str, count: int) -> list[SeededSession]:
        """A member of `account` with `count` open sessions."""
        user_ids = await self._users(account.id, account.name, email_name, 1, admin=False)
        return await self._sessions(account.id, user_ids, count)

    async def _users(self, account_id: str, account: str, role: str, count: int, *, admin: bool) -> list[str]:
        now = datetime.now(UTC)
        rows = [self._user_row(account_id, f"{role}{i}@{account}.bench", admin=admin, now=now) for i in range(count)]
        await self._insert("user", rows)
        return [str(row["id"]) for row in rows]

    def _user_row(self, account_id: str, email: str, *, admin: bool, now: datetime) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()),
            "account_id": account_id,
            "email": email,
            "password_hash": self._password_hash,
            "is_admin": admin,
            "created_at": now,
        }

    async def _sessions(self, account_id: str, user_ids: Sequence[str], count: int) -> list[SeededSession]:
        now = datetime.now(UTC)
        seeded: list[SeededSession] = []
        rows: list[dict[str, Any]] = []
        for i in range(count):
            token = new_token()
            session = SeededSession(str(uuid.uuid4()), token, user_ids[i % len(user_ids)])
            seeded.append(session)
            created = now - timedelta(milliseconds=count - i)
            rows.append(
                {
                    "id": session.id,
                    "token_hash": hash_token(token),
                    "user_id": session.user_id,
                    "account_id": account_id,
                    "device_type": "DESKTOP",
                    "device_label": "Chrome 131 on macOS",
                    "browser": "Chrome 131",
                    "os": "macOS",
                    "user_agent": CHROME_ON_MAC,
                    "ip_address": "127.0.0.1",
                    "status": "ACTIVE",
                    "created_at": created,
                    "last_seen_at": now,
                    "expires_at": now + timedelta(days=14),
                    "ended_at": None,
                    "end_reason": None,
                }
            )
        await self._insert("login_session", rows)
        await self._count_open(account_id, [session.user_id for session in seeded])
        return seeded

    async def _count_open(self, account_id: str, user_ids: Sequence[str]) -> None:
        """Bump the open-session counters the service keeps (`totalCount` reads them) for sessions seeded here."""
        account, user = self._tables["account"], self._tables["user"]
        per_user: dict[str, int] = {}
        for user_id in user_ids:
            per_user[user_id] = per_user.get(user_id, 0) + 1
        async with self._engine.begin() as connection:
            await connection.execute(
                account.update()
                .where(account.c.id == account_id)
                .values(open_sessions=account.c.open_sessions + len(user_ids))
            )
            for user_id, count in sorted(per_user.items()):
                await connection.execute(
                    user.update().where(user.c.id == user_id).values(open_sessions=user.c.open_sessions + count)
                )

    async def _insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        for start in range(0, len(rows), CHUNK):
            async with self._engine.begin() as connection:
                await connection.execute(self._tables[table].insert(), rows[start : start + CHUNK])
