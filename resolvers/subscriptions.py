"""Subscription resolvers: authorise, then relay the service's event stream.

On a websocket the events skip Strawberry's per-result path: `EventFrames` writes each as a ready frame whose
payload is executed once for every subscriber of the same document (`schema.shared_execution`), and this
resolver never yields. Streams over HTTP (SSE, multipart) yield each event through Strawberry."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass

import strawberry

from core.async_streams import StreamStopped, until_set
from core.clock import utc_now
from core.errors import ServiceUnavailable, Unauthenticated
from resolvers.convert import to_event
from resolvers.event_frames import EventFrames
from schema.close_codes import SERVER_RESTARTING, SESSION_ENDED, SUBSCRIBER_TOO_SLOW
from schema.context import SOCKET_OPERATION, Context
from schema.types import SessionEvent
from services.event_stream import PushSubscription, SubscriberOverflow
from services.viewer import Viewer

STREAM_ENDED = "Session ended."


@dataclass(frozen=True, slots=True)
class SocketEvents:
    """A websocket's `sessionEvents` operation, live: its frames and the service's subscription feeding them."""

    frames: EventFrames
    subscription: PushSubscription

    async def stop(self) -> None:
        self.frames.active = False  # frames still queued for the socket are dropped
        await self.subscription.stop()


async def open_socket_events(
    context: Context, caller: Viewer, frames: EventFrames, *, all_users: bool, after: str | None
) -> SocketEvents:
    """Feed `frames` the caller's events from the service (scope checked there): no task and no generator
    waits between events. Shared by the resolver and `web/socket_subscribe.py`."""
    subscription = await context.services.events.open_push(caller, all_users=all_users, after=after, sink=frames)
    return SocketEvents(frames, subscription)


async def session_events(
    info: strawberry.Info[Context, None], all_users: bool | None = False, after: strawberry.ID | None = None
) -> AsyncGenerator[SessionEvent, None]:
    context = info.context
    caller = await context.viewer()
    socket = context.socket
    operation = SOCKET_OPERATION.get()
    if socket is not None and operation is not None:
        frames = EventFrames.for_resolver(info, operation, socket, caller.session_id)
        opened = await open_socket_events(context, caller, frames, all_users=bool(all_users), after=after)
        try:
            await opened.subscription.ended
        finally:
            await opened.stop()
        await socket.close(*SESSION_ENDED)  # the caller's own session ended: the socket is revoked
        return
    on_overflow = (lambda: socket.close_soon(*SUBSCRIBER_TOO_SLOW)) if socket is not None else None
    stream = context.services.events.events(caller, all_users=bool(all_users), after=after, on_overflow=on_overflow)
    if socket is None and not context.is_websocket:  # SSE, multipart: end with a coded error when draining
        stream = until_set(stream, context.draining)
    try:
        async for event in stream:
            yield to_event(event, viewer_session_id=caller.session_id, now=utc_now())
    except StreamStopped:
        raise ServiceUnavailable(f"{SERVER_RESTARTING[1]}; resubscribe with after.") from None
    except SubscriberOverflow:
        if socket is not None:  # already closing with 1013
            raise
        raise ServiceUnavailable(f"{SUBSCRIBER_TOO_SLOW[1]}.") from None  # an HTTP stream has no close code
    # The stream ends only when the caller's own session has ended: close the socket as revoked. A stream over
    # HTTP (SSE, multipart) has no close code: its last message is this error, then it completes.
    if socket is not None:
        await socket.close(*SESSION_ENDED)
    elif not context.is_websocket:
        raise Unauthenticated(STREAM_ENDED)
