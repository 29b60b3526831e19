"""Redis pub/sub backend that survives what broadcaster 0.3.1's `RedisBackend` does not (redis-py 8, asyncio).

What it fixes (docs: stack-facts, "broadcaster 0.3.1"):
- `subscribe()` returns once Redis has confirmed SUBSCRIBE, so the first channel of a fresh backend delivers
  (the stock backend wakes its reader before subscribing and, with redis-py 8, never reads anything);
- a dropped pub/sub connection (`CLIENT KILL TYPE pubsub`, a Redis restart, a silent peer caught by PING) is
  reopened with capped backoff and every channel is subscribed again; the reader task never ends on an error;
- `connect()` succeeds while Redis is down; `ready` says whether the backend is connected and subscribed, and
  `subscribe()` while down records the channel for the next connection instead of raising;
- `publish()` retries once on a connection error, then raises `ConnectionError`;
- the queue in front of `next_published()` is bounded (overflow drops and warns).

The subscriber is one raw redis-py connection (RESP2) owned by a single reader task: redis-py's `PubSub`
reconnects and resubscribes behind the caller's back, which would race with the loop here. Commands on it
(SUBSCRIBE, UNSUBSCRIBE, PING) are sent under a lock; replies and messages are read only by the reader task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from broadcaster import BroadcastBackend, Event
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection, Connection, parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bus.backends._common import DEFAULT_QUEUE_SIZE, Backoff, EventBuffer, require_text

log = logging.getLogger(__name__)

_PUBLISH_ERRORS = (RedisConnectionError, RedisTimeoutError, TimeoutError, OSError)


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


class ResilientRedisBackend(BroadcastBackend):
    """A `BroadcastBackend` for `redis://` and `rediss://` URLs that reconnects and resubscribes on its own."""

    def __init__(
        self,
        url: str,
        *,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        min_backoff: float = 0.1,
        max_backoff: float = 2.0,
        connect_timeout: float = 2.0,
        subscribe_timeout: float = 5.0,
        publish_timeout: float = 2.0,
        health_check_interval: float = 10.0,
        client_name: str = "active-sessions-bus",
    ) -> None:
        options: dict[str, Any] = dict(parse_url(url))
        self._connection_class: type[AbstractConnection] = options.pop("connection_class", Connection)
        # The reader parses RESP2 pub/sub replies itself; RESP3 would turn them into push frames.
        options.update(protocol=2, socket_connect_timeout=connect_timeout, socket_keepalive=True)
        options.setdefault("client_name", client_name)
        self._subscriber_options = options
        self._publisher: Redis = Redis.from_url(
            url,
            socket_connect_timeout=connect_timeout,
            socket_timeout=publish_timeout,
            client_name=f"{client_name}-publish",
        )
        self._buffer = EventBuffer(queue_size, name="redis")
        self._backoff = Backoff(min_backoff, max_backoff)
        self._connect_timeout = connect_timeout
        self._subscribe_timeout = subscribe_timeout
        self._publish_timeout = publish_timeout
        self._health_check_interval = health_check_interval

        self._channels: set[str] = set()  # what the application wants, kept across connections
        self._requested: set[str] = set()  # SUBSCRIBE sent on the current connection
        self._confirmed: set[str] = set()  # SUBSCRIBE confirmed on the current connection
        self._waiters: dict[str, asyncio.Future[None]] = {}
        self._connection: AbstractConnection | None = None
        self._send_lock = asyncio.Lock()
        self._first_attempt_done = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._connected_before = False
        self.reconnects = 0

    # -- BroadcastBackend ---------------------------------------------------------------------------------

    async def connect(self) -> None:
        """Start the reader; wait for its first attempt only, so a Redis that is down does not fail start-up."""
        if self._reader is None:
            self._reader = asyncio.create_task(self._read_forever(), name="redis-bus-reader")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._connect_timeout + 1):
                await self._first_attempt_done.wait()

    async def disconnect(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        await self._publisher.aclose()

    async def subscribe(self, channel: str) -> None:
        """Return once Redis confirmed the subscription; while disconnected, record it for the next connection."""
        waiter = await self._request_subscription(channel)
        if waiter is None:
            return
        try:
            async with asyncio.timeout(self._subscribe_timeout):
                await asyncio.shield(waiter)
        except TimeoutError:
            log.warning("Redis did not confirm SUBSCRIBE %s in time; it stays recorded for resubscription", channel)

    async def unsubscribe(self, channel: str) -> None:
        async with self._send_lock:
            self._channels.discard(channel)
            self._requested.discard(channel)
            self._confirmed.discard(channel)
            connection = self._connection
            if connection is None:
                return
            try:
                await self._send(connection, "UNSUBSCRIBE", channel)
            except (RedisError, OSError):
                log.debug("UNSUBSCRIBE %s not sent: the connection is down", channel)

    async def publish(self, channel: str, message: Any) -> None:
        """PUBLISH; on a connection error retry once on a fresh connection, then raise `ConnectionError`."""
        text = require_text(message)
        try:
            await self._publish_once(channel, text)
            return
        except _PUBLISH_ERRORS as exc:
            log.info("Redis PUBLISH on %s failed (%s); retrying once", channel, exc)
        try:
            await self._publish_once(channel, text)
        except _PUBLISH_ERRORS as exc:
            raise ConnectionError(f"Redis PUBLISH on {channel!r} failed twice: {exc}") from exc

    async def next_published(self) -> Event:
        return await self._buffer.get()

    # -- state ----------------------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True only while connected with every wanted channel subscribed."""
        connection = self._connection
        return connection is not None and connection.is_connected and self._channels <= self._confirmed

    @property
    def dropped(self) -> int:
        """Messages dropped because the queue was full."""
        return self._buffer.dropped

    # -- internals ------------------------------------------------------------------------------------------

    async def _publish_once(self, channel: str, message: str) -> None:
        async with asyncio.timeout(self._publish_timeout):
            await self._publisher.publish(channel, message)

    async def _request_subscription(self, channel: str) -> asyncio.Future[None] | None:
        """Record the channel; if connected, send SUBSCRIBE and return the future its confirmation resolves."""
        async with self._send_lock:
            self._channels.add(channel)
            connection = self._connection
            if connection is None or channel in self._confirmed:
                return None
            waiter = self._waiters.get(channel)
            if waiter is None:
                waiter = asyncio.get_running_loop().create_future()
                self._waiters[channel] = waiter
            if channel not in self._requested:
                self._requested.add(channel)
                try:
                    await self._send(connection, "SUBSCRIBE", channel)
                except (RedisError, OSError):
                    log.debug("SUBSCRIBE %s not sent: the connection is down; it will be sent on reconnect", channel)
                    return None
            return waiter

    @staticmethod
    async def _send(connection: AbstractConnection, *args: str) -> None:
        # `send_command` silently reconnects a closed connection; a reconnect must go through the reader loop.
        if not connection.is_connected:
            raise RedisConnectionError("pub/sub connection is closed")
        await connection.send_command(*args, check_health=False)

    async def _read_forever(self) -> None:
        """Connect, subscribe every wanted channel, read; on any failure wait (capped backoff) and start over."""
        failed_attempts = 0
        while True:
            connection = self._connection_class(**self._subscriber_options)
            attached = False
            try:
                await connection.connect()  # type: ignore[no-untyped-call]  # unannotated in redis-py 8.1
                await self._attach(connection)
                attached, failed_attempts = True, 0
                self._first_attempt_done.set()
                await self._read(connection)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                if attached:
                    log.warning("Redis bus connection lost (%s); reconnecting", exc)
                elif failed_attempts == 0:
                    log.warning("Redis bus cannot connect (%s); retrying in the background", exc)
                else:
                    log.debug("Redis bus connection attempt failed: %s", exc)
                failed_attempts += 0 if attached else 1
            except Exception:
                log.exception("Redis bus reader failed unexpectedly; reconnecting")
            finally:
                self._first_attempt_done.set()
                self._detach(connection)
                await connection.disconnect(nowait=True)
            await asyncio.sleep(self._backoff.next_delay())

    async def _attach(self, connection: AbstractConnection) -> None:
        async with self._send_lock:
            self._connection = connection
            channels = sorted(self._channels)
            self._requested = set(channels)
            if channels:
                await self._send(connection, "SUBSCRIBE", *channels)
        self._backoff.reset()
        if self._connected_before:
            self.reconnects += 1
            log.info("Redis bus reconnected; resubscribing %d channel(s)", len(channels))
        self._connected_before = True

    def _detach(self, connection: AbstractConnection) -> None:
        if self._connection is not connection:
            return
        self._connection = None
        self._requested.clear()
        self._confirmed.clear()
        waiters, self._waiters = self._waiters, {}
        for waiter in waiters.values():
            if not waiter.done():
                waiter.set_result(None)

    async def _read(self, connection: AbstractConnection) -> None:
        """Read replies and messages until the connection fails; PING when idle to notice a silent peer."""
        awaiting_pong = False
        while True:
            response = await connection.read_response(timeout=self._health_check_interval)
            if response is None:
                if awaiting_pong:
                    raise RedisConnectionError("no reply to PING on the pub/sub connection")
                async with self._send_lock:
                    await self._send(connection, "PING")
                awaiting_pong = True
                continue
            awaiting_pong = False
            self._handle(response)

    def _handle(self, response: object) -> None:
        if not isinstance(response, list) or len(response) < 3:
            return
        kind = _text(response[0])
        channel = _text(response[1])
        if kind == "message":
            if channel in self._channels:
                self._buffer.offer(channel, _text(response[2]))
        elif kind == "subscribe":
            if channel in self._requested:
                self._confirmed.add(channel)
            waiter = self._waiters.pop(channel, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
