"""The statements that list a scope's open sessions, built once per shape and reused.

SQLAlchemy keys its compiled-statement cache on each statement's structure; a statement object that is reused
computes that key once, where one rebuilt per request recomputes it (and rebuilds the expression) every time.
Every value is a bound parameter: `scope` (the account or user id), `now`, `account_id`, `limit` and, when
resuming after a cursor, `after_created_at` and `after_id`."""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from sqlalchemy import BindParameter, Integer, Select, and_, bindparam, func, or_, select
from sqlmodel import col

from models import LoginSession, User
from services.event_log import latest_event_id_of
from services.records import LOGIN_SESSION_COLUMNS

Scope = Literal["account", "user"]


@cache
def head_statement(scope: Scope) -> Select[Any]:
    """The number of open sessions in the scope and the account's newest event id, in one round trip."""
    count = select(func.count()).select_from(LoginSession).where(_open_in(scope)).scalar_subquery()
    return select(count, latest_event_id_of(bindparam("account_id")))


@cache
def page_statement(scope: Scope, resuming: bool) -> Select[Any]:
    """Up to `limit` open sessions of the scope with their users' email and role, newest first."""
    query = (
        select(*LOGIN_SESSION_COLUMNS, col(User.email), col(User.is_admin))
        .join(User, col(User.id) == col(LoginSession.user_id))
        .where(_open_in(scope))
    )
    if resuming:
        after_created_at: BindParameter[Any] = bindparam("after_created_at")
        query = query.where(
            or_(
                col(LoginSession.created_at) < after_created_at,
                and_(col(LoginSession.created_at) == after_created_at, col(LoginSession.id) < bindparam("after_id")),
            )
        )
    newest_first = (col(LoginSession.created_at).desc(), col(LoginSession.id).desc())
    return query.order_by(*newest_first).limit(bindparam("limit", type_=Integer))


def _open_in(scope: Scope) -> Any:
    owner = col(LoginSession.account_id) if scope == "account" else col(LoginSession.user_id)
    return and_(
        owner == bindparam("scope"),
        col(LoginSession.ended_at).is_(None),
        col(LoginSession.expires_at) > bindparam("now"),
    )
