"""Federation entity lookups (`_entities`): the sessions and users a gateway asks for by key, in the caller's
scope. Anything the caller may not see comes back null, exactly like an id that does not exist."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import strawberry

from core.clock import utc_now
from resolvers.convert import to_session, to_user
from schema.context import Context
from schema.types import Session, User


async def sessions_by_id(info: strawberry.Info[Context, None], ids: Sequence[str]) -> list[Session | None]:
    context = info.context
    caller = await context.viewer()
    found = await context.services.sessions.sessions_visible_to(caller, ids)
    now, idle_window = utc_now(), timedelta(seconds=context.services.settings.idle_window_seconds)
    return [
        to_session(found[key], viewer_session_id=caller.session_id, now=now, idle_window=idle_window)
        if key in found
        else None
        for key in ids
    ]


async def users_by_id(info: strawberry.Info[Context, None], ids: Sequence[str]) -> list[User | None]:
    context = info.context
    found = await context.services.sessions.users_visible_to(await context.viewer(), ids)
    return [to_user(found[key]) if key in found else None for key in ids]
