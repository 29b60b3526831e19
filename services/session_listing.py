"""The statements that list a scope's open sessions, built once per shape and reused.

SQLAlchemy keys its compiled-statement cache on each statement's structure; a statement object that is reused
computes that key once, where one rebuilt per request recomputes it (and rebuilds the expression) every time.
Every value is a bound parameter: `scope` (the account or user id), `now`, `account_id`, `limit` and, when
resuming after a cursor, `after_created_at` and `after_id`.

Each is served by an index whatever the scope's size: a page is a backward range scan of the partial index
`(account_id | user_id, created_at, id) WHERE ended_at IS NULL` from the cursor (a row-value comparison, which
the index takes as its bound); the count is the scope's `open_sessions` counter less the few open sessions
already past their expiry (`ix_login_session_account_expiry`, `ix_login_session_user_expiry`); the newest
event is the account's last entry in `ix_session_event_account_id`."""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from sqlalchemy import Integer, Select, bindparam, func, select, tuple_
from sqlmodel import col

from models import Account, LoginSession, User
from models.columns import UTCDateTime
from services.event_log import latest_event_id_of
from services.records import LOGIN_SESSION_COLUMNS

Scope = Literal["account", "user"]


@cache
def head_statement(scope: Scope) -> Select[Any]:
    """The number of open sessions in the scope and the account's newest event id, in one round trip.

    The count is exact: `open_sessions` is kept in every transaction that opens or ends a session, and the
    sessions past their expiry that the sweep has not ended yet (never listed) are taken off."""
    owner = col(LoginSession.account_id) if scope == "account" else col(LoginSession.user_id)
    counter = (
        select(col(Account.open_sessions)).where(col(Account.id) == bindparam("scope"))
        if scope == "account"
        else select(col(User.open_sessions)).where(col(User.id) == bindparam("scope"))
    ).scalar_subquery()
    past_expiry = (
        select(func.count())
        .select_from(LoginSession)
        .where(
            col(LoginSession.ended_at).is_(None),
            col(LoginSession.expires_at) <= bindparam("now"),
            owner == bindparam("scope"),
        )
        .scalar_subquery()
    )
    return select(counter - past_expiry, latest_event_id_of(bindparam("account_id")))


@cache
def page_statement(scope: Scope, resuming: bool) -> Select[Any]:
    """Up to `limit` open sessions of the scope with their users' email and role, newest first."""
    owner = col(LoginSession.account_id) if scope == "account" else col(LoginSession.user_id)
    query = (
        select(*LOGIN_SESSION_COLUMNS, col(User.email), col(User.is_admin), col(User.external_id))
        .join(User, col(User.id) == col(LoginSession.user_id))
        .where(
            owner == bindparam("scope"),
            col(LoginSession.ended_at).is_(None),
            col(LoginSession.expires_at) > bindparam("now"),
        )
    )
    if resuming:
        after = tuple_(bindparam("after_created_at", type_=UTCDateTime()), bindparam("after_id"))
        query = query.where(tuple_(col(LoginSession.created_at), col(LoginSession.id)) < after)
    newest_first = (col(LoginSession.created_at).desc(), col(LoginSession.id).desc())
    return query.order_by(*newest_first).limit(bindparam("limit", type_=Integer))
