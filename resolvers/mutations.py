"""Mutation resolvers."""

from __future__ import annotations

from datetime import timedelta

import strawberry

from core.clock import utc_now
from resolvers.convert import to_session
from schema.context import Context
from schema.types import (
    ChangePasswordInput,
    ChangePasswordPayload,
    LoginInput,
    LoginPayload,
    LogoutOtherSessionsPayload,
    LogoutSessionPayload,
    LogoutSessionsPayload,
    Session,
    SessionFilter,
)
from services.bulk_logout import BulkCriteria
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


async def change_password(info: strawberry.Info[Context, None], input: ChangePasswordInput) -> ChangePasswordPayload:
    caller = await info.context.viewer()
    ended = await info.context.services.security.passwords.change(
        caller,
        current_password=input.current_password,
        new_password=input.new_password,
        logout_other_sessions=input.logout_other_sessions is not False,
        ip_address=info.context.client_ip,
    )
    return ChangePasswordPayload(ended_sessions=[_session(info.context, r, caller.session_id) for r in ended])


async def logout_sessions(info: strawberry.Info[Context, None], filter: SessionFilter) -> LogoutSessionsPayload:
    caller = await info.context.viewer()
    criteria = BulkCriteria(
        user_id=str(filter.user_id) if filter.user_id is not None else None,
        ip_prefix=filter.ip_prefix,
        device_type=filter.device_type.value if filter.device_type is not None else None,
        started_before=filter.started_before,
        idle_only=bool(filter.idle_only),
    )
    ended = await info.context.services.security.bulk.logout(caller, criteria)
    return LogoutSessionsPayload(
        count=len(ended), sessions=[_session(info.context, r, caller.session_id) for r in ended]
    )
