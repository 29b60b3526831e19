"""Query resolvers."""

from __future__ import annotations

from datetime import timedelta

import strawberry

from core.clock import utc_now
from resolvers.convert import to_session, to_user
from schema.context import Context
from schema.types import PageInfo, SessionConnection, SessionEdge, User
from services.sessions import SessionPage
from services.viewer import Viewer


async def viewer(info: strawberry.Info[Context, None]) -> User:
    return to_user((await info.context.viewer()).user)


async def active_sessions(
    info: strawberry.Info[Context, None],
    user_id: strawberry.ID | None = None,
    all_users: bool | None = False,
    first: int | None = 50,
    after: str | None = None,
) -> SessionConnection:
    context = info.context
    caller = await context.viewer()
    page = await context.services.sessions.list_active(
        caller, user_id=user_id, all_users=bool(all_users), first=50 if first is None else first, after=after
    )
    return _connection(context, caller, page)


async def session_history(
    info: strawberry.Info[Context, None],
    user_id: strawberry.ID | None = None,
    all_users: bool | None = False,
    first: int | None = 50,
    after: str | None = None,
) -> SessionConnection:
    context = info.context
    caller = await context.viewer()
    page = await context.services.security.history.list(
        caller, user_id=user_id, all_users=bool(all_users), first=50 if first is None else first, after=after
    )
    return _connection(context, caller, page)


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
