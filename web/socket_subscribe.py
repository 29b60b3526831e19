"""`sessionEvents` subscribes on graphql-transport-ws served without an operation task.

Strawberry runs every operation in a task of its own, through its extensions' hooks and graphql-core's
subscription machinery, all of it held for the subscription's whole life (~20 KiB each, BENCHMARKS.md, P3).
A console's subscription needs none of that between events: `EventFrames` writes them. So a `subscribe`
whose document `schema/socket_documents.py` recognises (validated with every rule the schema applies) is
served here: the caller is authorised, the service's push subscription is opened, and the operation is
registered with the handler as an entry whose `task` is a plain future, so Strawberry's own `complete`, limit
and shutdown code ends it as it ends any other. Everything else (including a resume with `after`, whose replay
would hold up the socket's read loop), and any subscribe that fails here (bad variables, an unauthorised
caller, a forbidden scope, any other error), goes to Strawberry, which answers with the same errors as before."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from typing import Any

from resolvers.event_frames import EventFrames
from resolvers.subscriptions import SocketEvents, open_socket_events
from schema.close_codes import SESSION_ENDED
from schema.context import Context, LiveSocket, SocketOperation
from schema.shared_execution import SharedOperation
from schema.socket_documents import EventsDocuments

# Callbacks of a subscription's futures run in this empty context: the default copies the caller's context
# variables into every callback, and those copies live as long as the subscription.
_NO_CONTEXT = contextvars.Context()
_STOPPING: set[asyncio.Task[None]] = set()


class SocketSubscription:
    """The handler's entry for one operation served here (`task` is what Strawberry cancels to end it)."""

    __slots__ = ("task",)

    def __init__(self, task: asyncio.Future[None]) -> None:
        self.task = task


async def serve_subscribe(
    documents: EventsDocuments,
    operations: dict[str, Any],
    context: Context,
    operation: SocketOperation,
    payload: dict[str, Any],
) -> bool:
    """Serve the subscribe `operation` (its `payload`) here if it qualifies; False: nothing was done, leave it
    to Strawberry."""
    socket = context.socket
    found = documents.find(payload["query"], payload.get("operationName"))
    if socket is None or found is None:
        return False
    arguments = documents.arguments(found, payload.get("variables"))
    if arguments is None or arguments.after is not None:
        # A resume replays from the table first: done here, in the socket's read loop, it would hold up the
        # socket's other messages (pings included) until the replay ends. Strawberry's path runs it in a task.
        return False
    shared = SharedOperation(
        key=operation.result_key,
        schema=documents.schema,
        document=found.document,
        variables=arguments.variables,
    )
    try:
        caller = await context.viewer()
        frames = EventFrames(shared, context.services.shared_results, operation.frame_start, socket, caller.session_id)
        opened = await open_socket_events(context, caller, frames, all_users=arguments.all_users, after=None)
    except Exception:  # raised here, it would end the socket's read loop and every operation on it
        return False  # Strawberry's path runs it again in its own task and answers with the error
    # Strawberry reads the socket's next message only once this one is handled: no `complete`, duplicate id or
    # shutdown can have come in meanwhile.
    _register(operations, operation.id, opened, socket)
    return True


def _register(operations: dict[str, Any], operation_id: str, opened: SocketEvents, socket: LiveSocket) -> None:
    task: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    entry = SocketSubscription(task)
    operations[operation_id] = entry

    def operation_ended(_: asyncio.Future[None]) -> None:  # `complete`, the socket gone, or the session ended
        _stop_soon(opened)

    def session_ended(ended: asyncio.Future[None]) -> None:
        if ended.cancelled():  # stopped by the operation's end
            return
        if operations.get(operation_id) is entry:
            del operations[operation_id]
        if not task.done():
            task.set_result(None)
        socket.close_soon(*SESSION_ENDED)  # the caller's own session ended: the socket is revoked

    task.add_done_callback(operation_ended, context=_NO_CONTEXT)
    opened.subscription.ended.add_done_callback(session_ended, context=_NO_CONTEXT)


def _stop_soon(opened: SocketEvents) -> None:
    opened.frames.active = False  # at once: nothing more is written for it
    _run_soon(opened.stop())


def _run_soon(coroutine: Coroutine[Any, Any, None]) -> None:
    task = asyncio.get_running_loop().create_task(coroutine, context=_NO_CONTEXT)
    _STOPPING.add(task)
    task.add_done_callback(_STOPPING.discard)
