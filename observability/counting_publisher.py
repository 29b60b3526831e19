"""Counts what an instance commits as the service layer hands its events to the bus."""

from __future__ import annotations

from collections.abc import Sequence

from models import EventType
from observability.metrics import EVENTS_PUBLISHED, SESSIONS_CREATED, SESSIONS_ENDED
from services.event_log import EventPublisher
from services.records import EventRecord


class CountingPublisher:
    """Counts what this instance committed (logins, ends by reason, events) as it hands events to the bus."""

    def __init__(self, publisher: EventPublisher) -> None:
        self._publisher = publisher

    async def publish(self, events: Sequence[EventRecord]) -> None:
        for event in events:
            EVENTS_PUBLISHED.labels(type=event.type.value).inc()
            if event.type is EventType.CREATED:
                SESSIONS_CREATED.inc()
            elif event.type is EventType.ENDED and event.session.end_reason is not None:
                SESSIONS_ENDED.labels(reason=event.session.end_reason.value).inc()
        await self._publisher.publish(events)
