"""A websocket subscriber of `sessionEvents`: each event as a ready frame, its payload shared with every
subscriber that runs the same document with the same variables (`schema.shared_execution`)."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import DocumentNode

from core.clock import utc_now
from resolvers.convert import to_event
from schema.context import Context, LiveSocket, SocketOperation
from schema.shared_execution import SharedOperation, SharedResults
from services.records import EventRecord


class EventFrames:
    """An `EventSink` that writes each event to the socket as the operation's `next` (or legacy `data`) frame."""

    __slots__ = ("_frame_start", "_operation", "_results", "_session_id", "_socket", "active")

    def __init__(
        self, operation: SharedOperation, results: SharedResults, frame_start: str, socket: LiveSocket, session_id: str
    ) -> None:
        self._operation = operation
        self._results = results
        self._frame_start = frame_start
        self._socket = socket
        self._session_id = session_id
        self.active = True  # until the operation ends: its frames still queued are then dropped

    @classmethod
    def for_resolver(
        cls, info: strawberry.Info[Context, None], operation: SocketOperation, socket: LiveSocket, session_id: str
    ) -> EventFrames:
        raw: Any = info._raw_info  # graphql-core's resolve info: the schema, the operation and its fragments
        document = DocumentNode(definitions=(raw.operation, *raw.fragments.values()))
        shared = SharedOperation(
            key=operation.result_key, schema=raw.schema, document=document, variables=raw.variable_values
        )
        return cls(shared, info.context.services.shared_results, operation.frame_start, socket, session_id)

    def deliver(self, event: EventRecord) -> None:
        current = event.session.id == self._session_id  # `isCurrent`: the one field that differs per viewer
        payload = self._results.payload(
            self._operation,
            (event.id, current),
            lambda: to_event(event, viewer_session_id=self._session_id if current else None, now=utc_now()),
        )
        self._socket.send_frame(self._frame_start + payload + "}", self)
