"""PostgreSQL LISTEN/NOTIFY backend that survives what broadcaster 0.3.1's `PostgresBackend` does not (asyncpg).

What it fixes (docs: stack-facts, "broadcaster 0.3.1"):
- the stock backend runs LISTEN, UNLISTEN and NOTIFY on one connection without a lock, so concurrent calls fail
  with `InterfaceError: another operation is in progress`. Here a dedicated listener connection carries
  LISTEN/UNLISTEN (under a lock) and a separate publishing connection carries `SELECT pg_notify($1, $2)`
  (under another lock);
- a lost listener connection (`pg_terminate_backend`, a server restart, a silent peer caught by a periodic
  `SELECT 1`) is reopened with capped backoff and every channel is listened to again;
- `connect()` succeeds while PostgreSQL is down; `ready` says whether the listener is connected and listening;
- `publish()` retries once on a fresh connection, then raises `ConnectionError`; payloads of 8000 bytes or more
  (NOTIFY's limit) raise `ValueError` before anything is sent;
- the queue in front of `next_published()` is bounded (overflow drops and warns).

Accepts `postgres://`, `postgresql://` and `postgresql+asyncpg://` URLs. Channel names longer than PostgreSQL's
63-byte identifier limit travel under a stable hashed name, so any channel name works.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from broadcaster import BroadcastBackend, Event

from bus.backends._common import DEFAULT_QUEUE_SIZE, Backoff, EventBuffer, require_text

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 8000  # NOTIFY payloads must be shorter than this
_MAX_CHANNEL_BYTES = 63  # NAMEDATALEN - 1

_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InternalClientError,
)


def asyncpg_dsn(url: str) -> str:
    """`postgresql+asyncpg://...` (SQLAlchemy style) and `postgres://...` become a DSN asyncpg accepts."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in ("postgres", "postgresql"):
        raise ValueError(f"not a PostgreSQL URL: scheme {parts.scheme!r}")
    return urlunsplit(parts._replace(scheme="postgresql"))


def wire_channel(channel: str) -> str:
    """The name used with LISTEN/pg_notify: the channel itself, or a stable hash when it exceeds 63 bytes."""
    if len(channel.encode()) <= _MAX_CHANNEL_BYTES:
        return channel
    return "bus:" + hashlib.sha256(channel.encode()).hexdigest()[: _MAX_CHANNEL_BYTES - 4]


class ResilientPostgresBackend(BroadcastBackend):
    """A `BroadcastBackend` on LISTEN/NOTIFY with a listener that reconnects and listens again on its own."""

    def __init__(
        self,
        url: str,
        *,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        min_backoff: float = 0.1,
        max_backoff: float = 2.0,
        connect_timeout: float = 5.0,
        publish_timeout: float = 2.0,
        health_check_interval: float = 10.0,
        application_name: str = "active-sessions-bus",
    ) -> None:
        self._dsn = asyncpg_dsn(url)
        self._buffer = EventBuffer(queue_size, name="postgres")
        self._backoff = Backoff(min_backoff, max_backoff)
        self._connect_timeout = connect_timeout
        self._publish_timeout = publish_timeout
        self._health_check_interval = health_check_interval
        self.listener_application_name = f"{application_name}-listen"
        self.publisher_application_name = f"{application_name}-publish"

        self._channels: dict[str, str] = {}  # wire name -> channel, what the application wants
        self._listening: set[str] = set()  # wire names LISTENed on the current listener connection
        self._listener: Any = None  # asyncpg.Connection
        self._listen_lock = asyncio.Lock()
        self._publisher: Any = None  # asyncpg.Connection
        self._publish_lock = asyncio.Lock()
        self._first_attempt_done = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None
        self._connected_before = False
        self.reconnects = 0

    # -- BroadcastBackend ---------------------------------------------------------------------------------

    async def connect(self) -> None:
        """Start the listener loop; wait for its first attempt only, so a server that is down does not fail."""
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._listen_forever(), name="postgres-bus-listener")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._connect_timeout + 1):
                await self._first_attempt_done.wait()

    async def disconnect(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        async with self._publish_lock:
            await self._close_publisher()

    async def subscribe(self, channel: str) -> None:
        """LISTEN and return once the server has it; while disconnected, record it for the next connection."""
        wire = wire_channel(channel)
        async with self._listen_lock:
            self._channels[wire] = channel
            connection = self._listener
            if connection is None or wire in self._listening:
                return
            try:
                await connection.add_listener(wire, self._on_notification)
            except _CONNECTION_ERRORS as exc:
                log.debug("LISTEN %s failed (%s); it will be sent on reconnect", channel, exc)
                return
            self._listening.add(wire)

    async def unsubscribe(self, channel: str) -> None:
        wire = wire_channel(channel)
        async with self._listen_lock:
            self._channels.pop(wire, None)
            connection = self._listener
            if connection is None or wire not in self._listening:
                return
            self._listening.discard(wire)
            try:
                await connection.remove_listener(wire, self._on_notification)
            except _CONNECTION_ERRORS as exc:
                log.debug("UNLISTEN %s failed (%s); the connection is gone anyway", channel, exc)

    async def publish(self, channel: str, message: Any) -> None:
        """`pg_notify` on the publishing connection; one retry on a fresh connection, then `ConnectionError`."""
        text = require_text(message)
        size = len(text.encode())
        if size >= MAX_PAYLOAD_BYTES:
            raise ValueError(f"NOTIFY payload is {size} bytes; PostgreSQL accepts fewer than {MAX_PAYLOAD_BYTES}")
        wire = wire_channel(channel)
        async with self._publish_lock:
            try:
                await self._notify(wire, text)
                return
            except _CONNECTION_ERRORS as exc:
                log.info("pg_notify on %s failed (%s); retrying once on a new connection", channel, exc)
                await self._close_publisher()
            try:
                await self._notify(wire, text)
            except _CONNECTION_ERRORS as exc:
                await self._close_publisher()
                raise ConnectionError(f"pg_notify on {channel!r} failed twice: {exc}") from exc

    async def next_published(self) -> Event:
        return await self._buffer.get()

    # -- state ----------------------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True only while the listener is connected and listening to every wanted channel."""
        connection = self._listener
        return connection is not None and not connection.is_closed() and self._channels.keys() <= self._listening

    @property
    def dropped(self) -> int:
        """Notifications dropped because the queue was full."""
        return self._buffer.dropped

    # -- internals ------------------------------------------------------------------------------------------

    async def _open(self, application_name: str) -> Any:
        return await asyncpg.connect(
            self._dsn, timeout=self._connect_timeout, server_settings={"application_name": application_name}
        )

    async def _notify(self, wire: str, message: str) -> None:
        async with asyncio.timeout(self._publish_timeout):
            if self._publisher is None or self._publisher.is_closed():
                self._publisher = await self._open(self.publisher_application_name)
            await self._publisher.execute("SELECT pg_notify($1, $2)", wire, message)

    async def _close_publisher(self) -> None:
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            publisher.terminate()

    def _on_notification(self, _connection: Any, _pid: int, wire: str, payload: str) -> None:
        channel = self._channels.get(wire)
        if channel is not None:
            self._buffer.offer(channel, payload)

    async def _listen_forever(self) -> None:
        """Connect, LISTEN to every wanted channel, watch the connection; on failure back off and start over."""
        failed_attempts = 0
        while True:
            connection: Any = None
            attached = False
            lost = asyncio.Event()
            try:
                connection = await self._open(self.listener_application_name)
                connection.add_termination_listener(lambda _connection, lost=lost: lost.set())
                await self._attach(connection)
                attached, failed_attempts = True, 0
                self._first_attempt_done.set()
                await self._watch(connection, lost)
            except asyncio.CancelledError:
                raise
            except (*_CONNECTION_ERRORS, asyncpg.PostgresError) as exc:
                if attached:
                    log.warning("PostgreSQL bus listener lost (%s); reconnecting", exc)
                elif failed_attempts == 0:
                    log.warning("PostgreSQL bus cannot connect (%s); retrying in the background", exc)
                else:
                    log.debug("PostgreSQL bus connection attempt failed: %s", exc)
                failed_attempts += 0 if attached else 1
            except Exception:
                log.exception("PostgreSQL bus listener failed unexpectedly; reconnecting")
            finally:
                self._first_attempt_done.set()
                if self._listener is connection:
                    self._listener = None
                    self._listening.clear()
                if connection is not None:
                    connection.terminate()
            await asyncio.sleep(self._backoff.next_delay())

    async def _attach(self, connection: Any) -> None:
        async with self._listen_lock:
            self._listener = connection
            self._listening.clear()
            for wire in sorted(self._channels):
                await connection.add_listener(wire, self._on_notification)
                self._listening.add(wire)
        self._backoff.reset()
        if self._connected_before:
            self.reconnects += 1
            log.info("PostgreSQL bus reconnected; listening to %d channel(s) again", len(self._listening))
        self._connected_before = True

    async def _watch(self, connection: Any, lost: asyncio.Event) -> None:
        """Return only by raising: when asyncpg reports the connection closed, or a periodic `SELECT 1` fails."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._health_check_interval):
                    await lost.wait()
            if lost.is_set() or connection.is_closed():
                raise ConnectionError("listener connection closed")
            async with self._listen_lock, asyncio.timeout(self._connect_timeout):
                await connection.fetchval("SELECT 1")
