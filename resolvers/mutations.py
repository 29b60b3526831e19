"""Mutation resolvers."""

from __future__ import annotations

from datetime import timedelta

import strawberry

from core.clock import utc_now
from resolvers.convert import to_session
from schema.context import Context
from schema.types import LoginInput, LoginPayload, LogoutOtherSessionsPayload, LogoutSessionPayload, Session
from services.records import SessionRecord


def _session(context: Context, record: SessionRecord, viewer_session_id: str | None) -> Session:
    idle_window = timedelta(seconds=context.services.settings.idle_window_seconds)
    return to_session(record, viewer_session_id=viewer_session_id, now=utc_now(), idle_window=idle_window)


async def login(info: strawberry.Info[Context, None], input: LoginInput) -> LoginPayload:
    context = info.context
    result = await context.services.access.login(
        email=input.email,
        password=input.password,
        device_name=input.device_name,
        user_agent=context.user_agent,
        ip_address=context.client_ip,
    )
    return LoginPayload(token=result.token, session=_session(context, result.session, result.session.id))


async def logout(info: strawberry.Info[Context, None]) -> LogoutSessionPayload:
    caller = await info.context.viewer()
    ended = await info.context.services.sessions.logout(caller)
    return LogoutSessionPayload(session=_session(info.context, ended, caller.session_id))


async def logout_session(info: strawberry.Info[Context, None], id: strawberry.ID) -> LogoutSessionPayload:
    caller = await info.context.viewer()
    ended = await info.context.services.sessions.end_session(caller, str(id))
    return LogoutSessionPayload(session=_session(info.context, ended, caller.session_id))


async def logout_other_sessions(info: strawberry.Info[Context, None]) -> LogoutOtherSessionsPayload:
    caller = await info.context.viewer()
    ended = await info.context.services.sessions.end_other_sessions(caller)
    return LogoutOtherSessionsPayload(sessions=[_session(info.context, r, caller.session_id) for r in ended])
