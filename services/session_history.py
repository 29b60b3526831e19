"""Session history: every session in a scope, ended ones included until retention deletes them, newest first.

The scopes, page bounds and cursors are those of `activeSessions` (services/sessions.py); each ended session
comes with who ended it."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Integer, Select, String, bindparam, func, select, tuple_
from sqlalchemy.orm import aliased
from sqlmodel import col

from core.database import Database
from core.settings import Settings
from models import LoginSession, User
from models.columns import UTCDateTime
from services.event_log import latest_event_id_of
from services.records import LOGIN_SESSION_COLUMNS, AnyRow, UserRecord, row_user, session_record
from services.session_listing import Scope
from services.sessions import SessionPage, SessionService, check_page_request, decode_cursor, session_page
from services.viewer import Viewer

_ENDER = aliased(User, name="ender")


class SessionHistory:
    def __init__(self, database: Database, sessions: SessionService, settings: Settings) -> None:
        self._database = database
        self._sessions = sessions
        self._settings = settings

    async def list(
        self, viewer: Viewer, *, user_id: str | None, all_users: bool, first: int, after: str | None
    ) -> SessionPage:
        check_page_request(
            first=first, user_id=user_id, all_users=all_users, max_page_size=self._settings.max_page_size
        )
        values: dict[str, Any] = {"account_id": viewer.account_id, "limit": first + 1}
        if after is not None:
            values["after_created_at"], values["after_id"] = decode_cursor(after)
        async with self._database.read_connection() as connection:
            scope, values["scope"] = await self._sessions.scope(
                connection, viewer, user_id=user_id, all_users=all_users
            )
            total, latest_event = (await connection.execute(_head(scope), values)).one()
            rows = (await connection.execute(_page(scope, after is not None), values)).all()
        records = [session_record(row, row_user(row), _ender(row)) for row in rows[:first]]
        return session_page(
            records, has_next_page=len(rows) > first, total_count=int(total), event_cursor=int(latest_event or 0)
        )


def _in(scope: Scope) -> Any:
    owner = col(LoginSession.account_id) if scope == "account" else col(LoginSession.user_id)
    return owner == bindparam("scope")


@cache
def _head(scope: Scope) -> Select[Any]:
    count = select(func.count()).select_from(LoginSession).where(_in(scope)).scalar_subquery()
    return select(count, latest_event_id_of(bindparam("account_id")))


@cache
def _page(scope: Scope, resuming: bool) -> Select[Any]:
    query = (
        select(
            *LOGIN_SESSION_COLUMNS,
            col(User.email),
            col(User.is_admin),
            col(User.external_id),
            col(_ENDER.email).label("ender_email"),
            col(_ENDER.is_admin).label("ender_is_admin"),
            col(_ENDER.account_id).label("ender_account_id"),
        )
        .join(User, col(User.id) == col(LoginSession.user_id))
        .outerjoin(_ENDER, col(_ENDER.id) == col(LoginSession.ended_by_user_id))
        .where(_in(scope))
    )
    if resuming:
        position = tuple_(col(LoginSession.created_at), col(LoginSession.id))
        after = tuple_(bindparam("after_created_at", type_=UTCDateTime()), bindparam("after_id", type_=String()))
        query = query.where(position < after)
    newest_first = (col(LoginSession.created_at).desc(), col(LoginSession.id).desc())
    return query.order_by(*newest_first).limit(bindparam("limit", type_=Integer))


def _ender(row: AnyRow) -> UserRecord | None:
    fields = row._mapping
    ender_id = fields["ended_by_user_id"]
    if ender_id is None or fields["ender_email"] is None:
        return None
    return UserRecord(
        id=ender_id,
        account_id=fields["ender_account_id"],
        email=fields["ender_email"],
        is_admin=fields["ender_is_admin"],
    )
