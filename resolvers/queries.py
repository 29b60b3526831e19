"""Query resolvers."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta
from typing import Protocol

import strawberry

from core.clock import utc_now
from resolvers.convert import to_session, to_user
from schema.context import Context
from schema.types import PageInfo, SessionConnection, SessionEdge, User
from services.sessions import SessionPage
from services.viewer import Viewer


class SessionLister(Protocol):
    def __call__(
        self, viewer: Viewer, *, user_id: str | None, all_users: bool, first: int, after: str | None
    ) -> Awaitable[SessionPage]: ...


async def viewer(info: strawberry.Info[Context, None]) -> User:
    return to_user((await info.context.viewer()).user)


async def _listed(
    info: strawberry.Info[Context, None],
    lister: SessionLister,
    *,
    user_id: strawberry.ID | None,
    all_users: bool | None,
    first: int | None,
    after: str | None,
) -> SessionConnection:
    """One page of a session listing (active or history), for the caller, as a connection."""
    caller = await info.context.viewer()
    page = await lister(
        caller, user_id=user_id, all_users=bool(all_users), first=50 if first is None else first, after=after
    )
    return _connection(info.context, caller, page)


async def active_sessions(
    info: strawberry.Info[Context, None],
    user_id: strawberry.ID | None = None,
    all_users: bool | None = False,
    first: int | None = 50,
    after: str | None = None,
) -> SessionConnection:
    return await _listed(
        info, info.context.services.sessions.list_active, user_id=user_id, all_users=all_users, first=first, after=after
    )


async def session_history(
    info: strawberry.Info[Context, None],
    user_id: strawberry.ID | None = None,
    all_users: bool | None = False,
    first: int | None = 50,
    after: str | None = None,
) -> SessionConnection:
    return await _listed(
        info,
        info.context.services.security.history.list,
        user_id=user_id,
        all_users=all_users,
        first=first,
        after=after,
    )


def _connection(context: Context, caller: Viewer, page: SessionPage) -> SessionConnection:
    now, idle_window = utc_now(), timedelta(seconds=context.services.settings.idle_window_seconds)
    nodes = [
        to_session(r, viewer_session_id=caller.session_id, now=now, idle_window=idle_window) for r in page.sessions
    ]
    return SessionConnection(
        edges=[SessionEdge(cursor=cursor, node=node) for cursor, node in zip(page.cursors, nodes, strict=True)],
        nodes=nodes,
        page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.cursors[-1] if page.cursors else None),
        total_count=page.total_count,
        event_cursor=strawberry.ID(str(page.event_cursor)),
    )
