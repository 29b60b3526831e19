"""Open websockets by session: when a session ends anywhere, its sockets here close with 4401."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from datetime import datetime

from starlette.websockets import WebSocket

from bus.hub import EventHub
from core.clock import utc_now
from models import EventType
from observability.metrics import REVOCATION_CLOSE_SECONDS, WEBSOCKET_CONNECTIONS
from schema.close_codes import SESSION_ENDED, SUBSCRIBER_TOO_SLOW
from schema.context import FrameOwner
from services.records import EventRecord
from web.frame_writer import FrameWriter
from web.server_send import SERVER_SEND
from web.socket_garbage import SocketGarbage


class LiveConnection:
    def __init__(self, websocket: WebSocket, *, session_id: str, account_id: str, max_pending: int) -> None:
        self.websocket = websocket
        self.session_id = session_id
        self.account_id = account_id
        self.closed = False
        self._closing: asyncio.Task[None] | None = None
        self._writer = FrameWriter(
            websocket.scope.get("state", {}).get(SERVER_SEND, websocket.send),
            limit=max_pending,
            on_overflow=lambda: self.close_soon(*SUBSCRIBER_TOO_SLOW),
        )

    def send_frame(self, frame: str, owner: FrameOwner) -> None:
        """Queue a ready-made text frame; it leaves at once unless the client has stopped reading."""
        if not self.closed:
            self._writer.write(frame, owner)

    def close_soon(self, code: int, reason: str, *, ended_at: datetime | None = None) -> None:
        """Close from synchronous code (the hub's fan-out) without waiting for it. `ended_at`: when the
        session's end was committed, to measure revocation-to-close latency."""
        if self._closing is None and not self.closed:
            self._closing = asyncio.create_task(self._close_and_measure(code, reason, ended_at))

    async def _close_and_measure(self, code: int, reason: str, ended_at: datetime | None) -> None:
        await self.close(code, reason)
        if ended_at is not None:
            REVOCATION_CLOSE_SECONDS.observe(max(0.0, (utc_now() - ended_at).total_seconds()))

    async def close(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):
            await self.websocket.close(code=code, reason=reason)


class ConnectionRegistry:
    """One hub listener per account with open sockets on this instance."""

    def __init__(self, hub: EventHub, garbage: SocketGarbage | None = None) -> None:
        self._hub = hub
        self._garbage = garbage or SocketGarbage()
        self._by_session: dict[str, set[LiveConnection]] = defaultdict(set)
        self._per_account: dict[str, int] = defaultdict(int)

    def count_for_session(self, session_id: str) -> int:
        """Open sockets of one session on this instance."""
        return len(self._by_session.get(session_id, ()))

    async def register(self, connection: LiveConnection) -> None:
        self._by_session[connection.session_id].add(connection)
        WEBSOCKET_CONNECTIONS.inc()
        self._per_account[connection.account_id] += 1
        if self._per_account[connection.account_id] == 1:
            await self._hub.attach(connection.account_id, self)

    async def unregister(self, connection: LiveConnection) -> None:
        connections = self._by_session.get(connection.session_id)
        if connections is None or connection not in connections:
            return
        connections.discard(connection)
        WEBSOCKET_CONNECTIONS.dec()
        self._garbage.socket_closed()
        if not connections:
            del self._by_session[connection.session_id]
        self._per_account[connection.account_id] -= 1
        if self._per_account[connection.account_id] == 0:
            del self._per_account[connection.account_id]
            await self._hub.detach(connection.account_id, self)

    def deliver(self, event: EventRecord) -> None:
        if event.type is EventType.ENDED:
            for connection in list(self._by_session.get(event.session.id, ())):
                connection.close_soon(*SESSION_ENDED, ended_at=event.session.ended_at or event.occurred_at)

    async def close_all(self, code: int, reason: str) -> None:
        connections = [c for group in self._by_session.values() for c in group]
        await asyncio.gather(*(c.close(code, reason) for c in connections), return_exceptions=True)
