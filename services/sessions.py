"""Listing and ending sessions, within the caller's scope."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from core.clock import utc_now
from core.database import Database
from core.errors import BadUserInput, Forbidden, NotFound
from core.settings import Settings
from models import EndReason, LoginSession, User
from services.event_log import EventPublisher
from services.records import SessionRecord, UserRecord, row_user, session_record, user_record
from services.session_listing import Scope, head_statement, page_statement
from services.session_store import end_where, ended_by_of, load_session
from services.viewer import Viewer

log = logging.getLogger(__name__)

SESSION_NOT_FOUND = "Session not found."
USER_NOT_FOUND = "User not found."
ID_MAX_LENGTH = 36  # every id column's width


@dataclass(frozen=True, slots=True)
class SessionPage:
    sessions: list[SessionRecord]
    cursors: list[str]
    has_next_page: bool
    total_count: int
    event_cursor: int


def check_page_request(*, first: int, user_id: str | None, all_users: bool, max_page_size: int) -> None:
    """The page arguments every session listing takes, checked alike."""
    if not 0 <= first <= max_page_size:
        raise BadUserInput(f"first must be between 0 and {max_page_size}.")
    if user_id is not None and all_users:
        raise BadUserInput("Pass either userId or allUsers, not both.")


def session_page(
    records: list[SessionRecord], *, has_next_page: bool, total_count: int, event_cursor: int
) -> SessionPage:
    return SessionPage(
        sessions=records,
        cursors=[encode_cursor(record) for record in records],
        has_next_page=has_next_page,
        total_count=total_count,
        event_cursor=event_cursor,
    )


class SessionService:
    def __init__(self, database: Database, publisher: EventPublisher, settings: Settings) -> None:
        self._database = database
        self._publisher = publisher
        self._settings = settings

    async def list_active(
        self, viewer: Viewer, *, user_id: str | None, all_users: bool, first: int, after: str | None
    ) -> SessionPage:
        check_page_request(
            first=first, user_id=user_id, all_users=all_users, max_page_size=self._settings.max_page_size
        )
        async with self._database.read_connection() as connection:
            scope, owner = await self._scope(connection, viewer, user_id=user_id, all_users=all_users)
            values: dict[str, Any] = {"scope": owner, "now": utc_now(), "account_id": viewer.account_id}
            # The event cursor is read with the count, before the list: an event committed in between is
            # replayed after the cursor, never missed.
            total, latest_event = (await connection.execute(head_statement(scope), values)).one()
            event_cursor = int(latest_event or 0)
            if after is not None:
                values["after_created_at"], values["after_id"] = decode_cursor(after)
            values["limit"] = first + 1
            # Core rows, not ORM entities: a page is read, converted and dropped, nothing to track.
            rows = (await connection.execute(page_statement(scope, after is not None), values)).all()
        records = [session_record(row, row_user(row)) for row in rows[:first]]
        return session_page(records, has_next_page=len(rows) > first, total_count=total, event_cursor=event_cursor)

    async def sessions_visible_to(self, viewer: Viewer, session_ids: Collection[str]) -> dict[str, SessionRecord]:
        """The sessions among `session_ids` that the viewer may see (`may_see`, ended ones included), by id.

        Any other id, whether it exists or not, is simply absent: a lookup reveals nothing it would not list."""
        wanted = {key for key in session_ids if may_exist(key)}
        if not wanted:
            return {}
        query = (
            select(LoginSession, User)
            .join(User, User.id == LoginSession.user_id)  # type: ignore[arg-type]
            .where(col(LoginSession.id).in_(wanted), col(LoginSession.account_id) == viewer.account_id)
        )
        if not viewer.is_admin:
            query = query.where(col(LoginSession.user_id) == viewer.user.id)
        async with self._database.session() as db:
            rows = (await db.execute(query)).all()
            enders = await ended_by_of(db, {row.ended_by_user_id for row, _ in rows})
        records = (session_record(row, user_record(user), enders.get(row.ended_by_user_id or "")) for row, user in rows)
        return {record.id: record for record in records if may_see(viewer, record)}

    async def users_visible_to(self, viewer: Viewer, user_ids: Collection[str]) -> dict[str, UserRecord]:
        """The users among `user_ids` that the viewer may see, by id: themself, and for administrators every
        user of their account. Any other id, whether it exists or not, is simply absent."""
        wanted = {key for key in user_ids if may_exist(key)} if viewer.is_admin else set(user_ids) & {viewer.user.id}
        if not wanted:
            return {}
        query = select(User).where(col(User.id).in_(wanted), col(User.account_id) == viewer.account_id)
        async with self._database.session() as db:
            rows = (await db.execute(query)).scalars().all()
        return {row.id: user_record(row) for row in rows}

    async def end_session(self, viewer: Viewer, session_id: str) -> SessionRecord:
        """End one session the viewer may see; an already ended one comes back unchanged, with no event."""
        async with self._database.session() as db, db.begin():
            target = await load_session(db, session_id) if may_exist(session_id) else None
            if target is None or not may_see(viewer, target):
                raise NotFound(SESSION_NOT_FOUND)
            if target.ended_at is not None:
                return target
            reason = _end_reason(viewer, target)
            ended, events = await end_where(
                db,
                LoginSession.id == target.id,  # type: ignore[arg-type]
                reason,
                utc_now(),
                ended_by=viewer.user,
            )
            if not ended:  # another request ended it first
                current = await load_session(db, session_id)
                assert current is not None
                return current
        await self._publisher.publish(events)
        log.info("session ended", extra={"session_id": target.id, "reason": reason.value})
        return ended[0]

    async def logout(self, viewer: Viewer) -> SessionRecord:
        return await self.end_session(viewer, viewer.session_id)

    async def end_other_sessions(self, viewer: Viewer) -> list[SessionRecord]:
        async with self._database.session() as db, db.begin():
            condition = and_(LoginSession.user_id == viewer.user.id, LoginSession.id != viewer.session_id)  # type: ignore[arg-type]
            ended, events = await end_where(db, condition, EndReason.REVOKED, utc_now(), ended_by=viewer.user)
        await self._publisher.publish(events)
        return ended

    async def scope(
        self, connection: AsyncConnection, viewer: Viewer, *, user_id: str | None, all_users: bool
    ) -> tuple[Scope, str]:
        """The scope rules of `activeSessions`, for listings of other kinds (history)."""
        return await self._scope(connection, viewer, user_id=user_id, all_users=all_users)

    async def _scope(
        self, connection: AsyncConnection, viewer: Viewer, *, user_id: str | None, all_users: bool
    ) -> tuple[Scope, str]:
        """Whose sessions to list: the account's, the viewer's own, or (administrators) one user's."""
        if all_users:
            _require_admin(viewer)
            return "account", viewer.account_id
        if user_id is None or user_id == viewer.user.id:
            return "user", viewer.user.id
        _require_admin(viewer)
        if not may_exist(user_id):
            raise NotFound(USER_NOT_FOUND)
        query = select(col(User.account_id)).where(col(User.id) == user_id)
        if (await connection.execute(query)).scalar_one_or_none() != viewer.account_id:
            raise NotFound(USER_NOT_FOUND)
        return "user", user_id


def may_see(viewer: Viewer, session: SessionRecord) -> bool:
    """Own sessions for everyone; every session of the account for its administrators."""
    return session.user.id == viewer.user.id or (viewer.is_admin and session.user.account_id == viewer.account_id)


def may_exist(key: str) -> bool:
    """Whether an id from a client could be stored at all: a longer one, or one with a NUL character (which
    PostgreSQL refuses outright, failing the query), matches nothing without asking the database."""
    return len(key) <= ID_MAX_LENGTH and "\x00" not in key


def _require_admin(viewer: Viewer) -> None:
    if not viewer.is_admin:
        raise Forbidden("Only administrators of the account may see other users' sessions.")


def _end_reason(viewer: Viewer, target: SessionRecord) -> EndReason:
    if target.id == viewer.session_id:
        return EndReason.LOGGED_OUT
    if target.user.id == viewer.user.id:
        return EndReason.REVOKED
    return EndReason.REVOKED_BY_ADMIN


def encode_cursor(record: SessionRecord) -> str:
    raw = json.dumps([record.created_at.isoformat(), record.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, session_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return datetime.fromisoformat(created_at), str(session_id)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise BadUserInput("Invalid cursor: pass an endCursor from a previous page.") from exc
