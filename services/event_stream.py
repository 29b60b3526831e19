"""A viewer's stream of session events: replay after a cursor, then live, with no gap and no duplicate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from core.errors import BadUserInput, CursorExpired, Forbidden
from models import EventType
from observability.metrics import EVENTS_DELIVERED, SUBSCRIPTIONS
from services.event_log import MAX_REPLAY_BATCH, EventLog
from services.records import EventRecord
from services.viewer import Viewer

CURSOR_EXPIRED_MESSAGE = (
    "Events after this cursor are past retention: refetch activeSessions, then subscribe without after."
)


class SubscriberOverflow(Exception):
    """The subscriber stopped reading and its bounded queue filled up."""


class LiveEvents(Protocol):
    async def next(self) -> EventRecord: ...


class EventSink(Protocol):
    """Receives a viewer's events, one call each, in order, inside the delivering code (it must not block)."""

    def deliver(self, event: EventRecord) -> None: ...


class EventSource(Protocol):
    """Live events of one account, in order (implemented by the bus hub)."""

    async def attach(self, account_id: str, listener: EventSink) -> None: ...

    async def detach(self, account_id: str, listener: EventSink) -> None: ...

    def subscribe(
        self, account_id: str, *, max_pending: int, on_overflow: Callable[[], None] | None = None
    ) -> AbstractAsyncContextManager[LiveEvents]: ...


class EventStream:
    def __init__(self, source: EventSource, event_log: EventLog, *, max_pending: int) -> None:
        self._source = source
        self._event_log = event_log
        self._max_pending = max_pending

    async def events(
        self, viewer: Viewer, *, all_users: bool, after: str | None, on_overflow: Callable[[], None] | None = None
    ) -> AsyncGenerator[EventRecord, None]:
        """Ends (without a further event) once the viewer's own session has ended. A reader that falls
        `max_pending` events behind gets `SubscriberOverflow` (and `on_overflow` is called at once)."""
        last_id = await self._start_point(viewer, all_users=all_users, after=after)
        user_id = None if all_users else viewer.user.id
        # Listen first, then replay: whatever commits in between arrives twice and is dropped by id.
        async with self._source.subscribe(
            viewer.account_id, max_pending=self._max_pending, on_overflow=on_overflow
        ) as live:
            SUBSCRIPTIONS.inc()
            try:
                async for event in self._replay_then_live(
                    viewer, live, replay=after is not None, last_id=last_id, user_id=user_id
                ):
                    EVENTS_DELIVERED.inc()
                    yield event
            finally:
                SUBSCRIPTIONS.dec()

    async def open_push(
        self, viewer: Viewer, *, all_users: bool, after: str | None, sink: EventSink
    ) -> PushSubscription:
        """The same events as `events`, handed to `sink` as they happen, with no task or queue of their own: the
        fan-out to thousands of subscribers costs one call each. Returns once the replay (if any) is done and
        events flow; the subscription's `ended` resolves when the viewer's own session ends, and `stop()` ends
        it. A sink that cannot keep up is the sink's to cut off."""
        last_id = await self._start_point(viewer, all_users=all_users, after=after)
        listener = _PushListener(sink, viewer, user_id=None if all_users else viewer.user.id, last_id=last_id)
        await self._source.attach(viewer.account_id, listener)  # listen first, then replay (duplicates drop by id)
        SUBSCRIPTIONS.inc()
        subscription = PushSubscription(self._source, viewer.account_id, listener)
        try:
            if after is not None:
                await self._replay_into(listener, viewer)
        except BaseException:
            await subscription.stop()
            raise
        listener.go_live()
        return subscription

    async def _replay_into(self, listener: _PushListener, viewer: Viewer) -> None:
        while not listener.ended.done():
            batch = await self._event_log.after_id(
                account_id=viewer.account_id, after_id=listener.last_id, user_id=listener.user_id
            )
            for event in batch:
                listener.offer(event)
            if len(batch) < MAX_REPLAY_BATCH:
                return

    async def _start_point(self, viewer: Viewer, *, all_users: bool, after: str | None) -> int:
        """The id after which the viewer's stream starts, once the viewer may watch it at all."""
        if all_users and not viewer.is_admin:
            raise Forbidden("Only administrators of the account may watch every user's sessions.")
        last_id = _parse_cursor(after)
        if after is not None and last_id < await self._event_log.pruned_through(viewer.account_id):
            raise CursorExpired(CURSOR_EXPIRED_MESSAGE)
        return last_id

    async def _replay_then_live(
        self, viewer: Viewer, live: LiveEvents, *, replay: bool, last_id: int, user_id: str | None
    ) -> AsyncGenerator[EventRecord, None]:
        """Events in scope (`user_id` None: the whole account), in order, each once."""
        if replay:
            while True:
                batch = await self._event_log.after_id(account_id=viewer.account_id, after_id=last_id, user_id=user_id)
                for event in batch:
                    last_id = event.id
                    if _ends_viewer(event, viewer):
                        return
                    yield event
                if len(batch) < MAX_REPLAY_BATCH:
                    break
        while True:
            event = await live.next()
            if event.id <= last_id or (user_id is not None and event.session.user.id != user_id):
                continue
            last_id = event.id
            if _ends_viewer(event, viewer):
                return
            yield event


class PushSubscription:
    """A live `open_push`: nothing runs for it between events."""

    __slots__ = ("_account_id", "_listener", "_source", "_stopped")

    def __init__(self, source: EventSource, account_id: str, listener: _PushListener) -> None:
        self._source = source
        self._account_id = account_id
        self._listener = listener
        self._stopped = False

    @property
    def ended(self) -> asyncio.Future[None]:
        """Resolves when the viewer's own session has ended (the sink got nothing about it)."""
        return self._listener.ended

    async def stop(self) -> None:
        """No more events to the sink; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        if not self._listener.ended.done():
            self._listener.ended.cancel()
        SUBSCRIPTIONS.dec()
        await self._source.detach(self._account_id, self._listener)


class _PushListener:
    """One subscriber on the hub: holds live events back while the replay runs, then passes each event in the
    viewer's scope to the sink once, in order, and stops at the viewer's own ENDED."""

    __slots__ = ("_held", "_sink", "_viewer", "ended", "last_id", "user_id")

    def __init__(self, sink: EventSink, viewer: Viewer, *, user_id: str | None, last_id: int) -> None:
        self._sink = sink
        self._viewer = viewer
        self.user_id = user_id
        self.last_id = last_id
        self._held: list[EventRecord] | None = []
        self.ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def deliver(self, event: EventRecord) -> None:
        if self._held is not None:
            self._held.append(event)
        else:
            self.offer(event)

    def go_live(self) -> None:
        held, self._held = self._held or [], None
        for event in held:
            self.offer(event)

    def offer(self, event: EventRecord) -> None:
        if self.ended.done() or event.id <= self.last_id:
            return
        if self.user_id is not None and event.session.user.id != self.user_id:
            return
        self.last_id = event.id
        if _ends_viewer(event, self._viewer):
            self.ended.set_result(None)
            return
        EVENTS_DELIVERED.inc()
        self._sink.deliver(event)


def _ends_viewer(event: EventRecord, viewer: Viewer) -> bool:
    return event.type is EventType.ENDED and event.session.id == viewer.session_id


def _parse_cursor(after: str | None) -> int:
    if after is None:
        return 0
    try:
        value = int(after)
    except ValueError:
        raise BadUserInput("after must be the id of a session event.") from None
    if value < 0:
        raise BadUserInput("after must be the id of a session event.")
    return value
