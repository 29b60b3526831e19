"""A viewer's stream of session events: replay after a cursor, then live, with no gap and no duplicate."""

from __future__ import annotations

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


class EventSource(Protocol):
    """Live events of one account, in order (implemented by the bus hub)."""

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
        if all_users and not viewer.is_admin:
            raise Forbidden("Only administrators of the account may watch every user's sessions.")
        last_id = _parse_cursor(after)
        if after is not None and last_id < await self._event_log.pruned_through(viewer.account_id):
            raise CursorExpired(CURSOR_EXPIRED_MESSAGE)
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
