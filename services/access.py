"""Logging in and recognising a bearer token, checked against the database on every use."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.clock import utc_now
from core.database import Database
from core.errors import Forbidden, Unauthenticated
from core.passwords import verify_password
from core.settings import Settings
from core.tokens import hash_token, new_token
from models import Account, EndReason, EventType, LoginSession, SessionStatus, User
from services.device import describe_device
from services.event_log import EventPublisher, append_event
from services.geolocation import Locator, NoLocation
from services.limit_store import MemoryLimitStore
from services.rate_limit import LoginThrottle
from services.records import (
    LOGIN_SESSION_COLUMNS,
    AnyRow,
    EventRecord,
    SessionRecord,
    UserRecord,
    row_user,
    session_record,
    user_record,
)
from services.session_limit import is_new_device, make_room
from services.session_store import count_open_sessions, end_where
from services.viewer import Viewer

log = logging.getLogger(__name__)

PASSWORD_CHECKS_AT_ONCE = 2  # argon2 threads; more would only queue behind the cores
INVALID_CREDENTIALS = "Invalid email or password."
PASSWORD_LOGIN_OFF = "Password login is turned off for this account; sign in through its own login."  # noqa: S105
MAX_TOKEN_LENGTH = 512  # issued tokens have 43 characters; anything far longer is refused unhashed
INVALID_TOKEN = "Missing, invalid or ended session token."  # noqa: S105 (a message, not a secret)

# Built once: SQLAlchemy keys its compiled-statement cache on the statement, and a statement object that is
# reused computes that key once instead of on every request.
SESSION_BY_TOKEN = (
    select(*LOGIN_SESSION_COLUMNS, col(User.email), col(User.is_admin), col(User.external_id))
    .join(User, User.id == LoginSession.user_id)  # type: ignore[arg-type]
    .where(col(LoginSession.token_hash) == bindparam("token_hash"))
)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    viewer: Viewer
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LoginResult:
    token: str
    session: SessionRecord


class AccessService:
    def __init__(
        self,
        database: Database,
        publisher: EventPublisher,
        settings: Settings,
        throttle: LoginThrottle | None = None,
        *,
        locator: Locator | None = None,
    ) -> None:
        self._database = database
        self._publisher = publisher
        self._settings = settings
        self._throttle = throttle or LoginThrottle.from_settings(settings, MemoryLimitStore())
        self._hashing = asyncio.Semaphore(PASSWORD_CHECKS_AT_ONCE)
        self._locator: Locator = locator or NoLocation()

    async def login(
        self, *, email: str, password: str, device_name: str | None, user_agent: str | None, ip_address: str
    ) -> LoginResult:
        # RateLimited (or, the limit store being unreachable, ServiceUnavailable) before any password check.
        attempt = await self._throttle.begin(address=ip_address, email=email)
        async with self._database.session() as db:
            found = (
                await db.execute(
                    select(User, col(Account.password_login))
                    .join(Account, col(Account.id) == col(User.account_id))
                    .where(col(User.email) == email.strip().lower())
                )
            ).first()
        user, password_login = (found[0], bool(found[1])) if found is not None else (None, True)
        # Always verify (against a dummy hash for unknown emails): same answer, similar time. Off the event
        # loop, a few at a time: an argon2 check costs ~0.2 s of CPU and would stall every open socket.
        async with self._hashing:
            verified = await asyncio.to_thread(verify_password, user.password_hash if user else None, password)
        if not verified or user is None:
            raise Unauthenticated(INVALID_CREDENTIALS)
        if not password_login:
            raise Forbidden(PASSWORD_LOGIN_OFF)
        await attempt.succeeded()
        return await self.start_session(
            user_record(user), device_name=device_name, user_agent=user_agent, ip_address=ip_address
        )

    async def start_session(
        self, user: UserRecord, *, device_name: str | None, user_agent: str | None, ip_address: str
    ) -> LoginResult:
        """A new session and its bearer token for a user already authenticated (by password, or by a trusted
        backend): the CREATED event is written with it and published after commit."""
        token = new_token()
        device = describe_device(user_agent, device_name)
        location = self._locator.locate(ip_address)  # once, at login; stored with the session
        now = utc_now()
        async with self._database.session() as db, db.begin():
            _, limit_events = await make_room(db, user_id=user.id, limit=self._settings.max_sessions_per_user, now=now)
            since = now - timedelta(days=self._settings.retention_days)
            new_device = await is_new_device(db, user_id=user.id, family=device.family, since=since)
            row = LoginSession(
                token_hash=hash_token(token),
                user_id=user.id,
                account_id=user.account_id,
                device_type=device.type,
                device_label=device.label,
                browser=device.browser,
                os=device.os,
                user_agent=device.user_agent,
                ip_address=ip_address,
                created_at=now,
                last_seen_at=now,
                expires_at=self._expiry(created_at=now, last_seen_at=now),
                device_family=device.family,
                is_new_device=new_device,
                location_country_code=location.country_code if location else None,
                location_country=location.country if location else None,
                location_city=location.city if location else None,
            )
            db.add(row)
            await db.flush()
            record = session_record(row, user)
            await count_open_sessions(db, [record], +1)
            event = await append_event(db, EventType.CREATED, record)
        await self._publisher.publish([*limit_events, event])
        log.info("session created", extra={"session_id": record.id, "user_id": user.id})
        return LoginResult(token=token, session=record)

    async def authenticate(self, token: str | None) -> Viewer:
        """The viewer behind a token, straight from the database; ends the session if it has expired."""
        return (await self.inspect_token(token)).viewer

    async def inspect_token(self, token: str | None, *, account_id: str | None = None) -> TokenInfo:
        """`authenticate` with the session's times, for introspection. With `account_id`, a token of another
        account is refused like an unknown one, before anything is written (no touch, no expiry)."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise Unauthenticated(INVALID_TOKEN)
        now = utc_now()
        events: list[EventRecord] = []
        async with self._database.read_connection() as connection:
            found = (await connection.execute(SESSION_BY_TOKEN, {"token_hash": hash_token(token)})).first()
        if found is None or found.ended_at is not None or (account_id is not None and found.account_id != account_id):
            raise Unauthenticated(INVALID_TOKEN)
        user = row_user(found)
        expired = found.expires_at <= now
        touch_due = now - found.last_seen_at >= timedelta(seconds=self._settings.touch_interval_seconds)
        expires_at: datetime = found.expires_at
        if expired or touch_due:  # both writes are conditional: a change committed meanwhile makes them no-ops
            async with self._database.session() as db, db.begin():
                if expired:
                    _, events = await end_where(db, col(LoginSession.id) == found.id, EndReason.EXPIRED, now)
                else:
                    events = await self._touch(db, found, user, now)
                    expires_at = self._expiry(created_at=found.created_at, last_seen_at=now)
        if events:
            await self._publisher.publish(events)
        if expired:
            raise Unauthenticated(INVALID_TOKEN)
        return TokenInfo(Viewer(session_id=found.id, user=user), created_at=found.created_at, expires_at=expires_at)

    async def _touch(self, db: AsyncSession, session: AnyRow, user: UserRecord, now: datetime) -> list[EventRecord]:
        """Record use at most once per touch interval; a session coming back from IDLE emits UPDATED."""
        was_idle, seen_at = SessionStatus(session.status) == SessionStatus.IDLE, session.last_seen_at
        changed = (
            await db.execute(
                update(LoginSession)
                .where(
                    col(LoginSession.id) == session.id,
                    col(LoginSession.ended_at).is_(None),
                    col(LoginSession.last_seen_at) == seen_at,
                )
                .values(
                    last_seen_at=now,
                    status=SessionStatus.ACTIVE,
                    expires_at=self._expiry(created_at=session.created_at, last_seen_at=now),
                )
                .returning(LoginSession)
                .execution_options(synchronize_session=False, populate_existing=True)
            )
        ).scalar_one_or_none()
        if changed is None:
            # Not touched: another request touched it first, or it ended since the token was read.
            ended_at = (
                await db.execute(select(col(LoginSession.ended_at)).where(col(LoginSession.id) == session.id))
            ).scalar_one_or_none()
            if ended_at is not None:
                raise Unauthenticated(INVALID_TOKEN)
            return []
        if not was_idle:
            return []
        return [await append_event(db, EventType.UPDATED, session_record(changed, user))]

    def _expiry(self, *, created_at: datetime, last_seen_at: datetime) -> datetime:
        return min(
            created_at + timedelta(seconds=self._settings.absolute_lifetime_seconds),
            last_seen_at + timedelta(seconds=self._settings.idle_timeout_seconds),
        )
