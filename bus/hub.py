"""The per-process hub: one bus subscription per account channel, fanned out to local listeners.

Events carry their account's gapless `seq`. The hub delivers each account's events once and in order:
duplicates are dropped, a gap is filled from the event table, and a periodic reconcile fetches whatever
the bus lost (publisher crash after commit, Redis outage). The database is the truth; the bus is a hint."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bus.subscription import Subscription
from bus.transport import Transport
from services.event_log import MAX_REPLAY_BATCH, EventLog
from services.records import EventRecord

log = logging.getLogger(__name__)


class Listener(Protocol):
    def deliver(self, event: EventRecord) -> None: ...


@dataclass(eq=False)
class _Channel:
    listeners: list[Listener] = field(default_factory=list)
    last_seq: int | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class EventHub:
    def __init__(
        self, transport: Transport, event_log: EventLog, *, channel_prefix: str, reconcile_interval: float
    ) -> None:
        self._transport = transport
        self._event_log = event_log
        self._prefix = f"{channel_prefix}:account:"
        self._reconcile_interval = reconcile_interval
        self._channels: dict[str, _Channel] = {}
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self._transport.connect()
        self._tasks = [
            asyncio.create_task(self._receive_forever(), name="hub-receive"),
            asyncio.create_task(self._reconcile_forever(), name="hub-reconcile"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._transport.disconnect()

    @property
    def ready(self) -> bool:
        return self._transport.ready and all(not task.done() for task in self._tasks)

    @property
    def reconnects(self) -> int:
        return self._transport.reconnects

    async def publish(self, events: Sequence[EventRecord]) -> None:
        """Tell the other instances, then deliver here as soon as the publisher yields to the event loop: the
        bus write and the publisher's own answer are not queued behind this instance's fan-out. A bus that is
        down is skipped: other instances reconcile from the database."""
        if self._transport.ready:
            for event in events:
                try:
                    await self._transport.publish(self._prefix + event.account_id, event.to_json())
                except Exception:
                    log.warning("bus publish failed; other instances will reconcile from the database")
        asyncio.get_running_loop().call_soon(self._ingest_all, list(events))

    def _ingest_all(self, events: list[EventRecord]) -> None:
        for event in events:
            self._ingest(event)

    async def attach(self, account_id: str, listener: Listener) -> None:
        while True:
            channel = self._channels.setdefault(account_id, _Channel())
            async with channel.lock:
                if self._channels.get(account_id) is not channel:
                    continue  # the last listener detached meanwhile and dropped this channel: start afresh
                if channel.last_seq is None:
                    await self._open(account_id, channel)
                channel.listeners.append(listener)
                return

    async def _open(self, account_id: str, channel: _Channel) -> None:
        """Subscribe on the bus first, then read where the account stands: nothing can fall in between."""
        try:
            await self._transport.subscribe(self._prefix + account_id)
        except Exception:
            log.warning("bus subscribe failed; events will arrive through reconcile")
        try:
            seqs = await self._event_log.latest_seqs([account_id])
        except BaseException:
            del self._channels[account_id]
            with contextlib.suppress(Exception):
                await self._transport.unsubscribe(self._prefix + account_id)
            raise
        channel.last_seq = seqs.get(account_id, 0)

    async def detach(self, account_id: str, listener: Listener) -> None:
        channel = self._channels.get(account_id)
        if channel is None:
            return
        async with channel.lock:
            with contextlib.suppress(ValueError):
                channel.listeners.remove(listener)
            if channel.listeners or self._channels.get(account_id) is not channel:
                return
            del self._channels[account_id]
            try:
                await self._transport.unsubscribe(self._prefix + account_id)
            except Exception:
                log.warning("bus unsubscribe failed")

    @contextlib.asynccontextmanager
    async def subscribe(
        self, account_id: str, *, max_pending: int, on_overflow: Callable[[], None] | None = None
    ) -> AsyncIterator[Subscription]:
        subscription = Subscription(max_pending, on_overflow)
        await self.attach(account_id, subscription)
        try:
            yield subscription
        finally:
            await self.detach(account_id, subscription)

    def _ingest(self, event: EventRecord) -> bool:
        """Deliver the next event of a channel in order; False when it reveals a gap."""
        channel = self._channels.get(event.account_id)
        if channel is None or channel.last_seq is None or event.seq <= channel.last_seq:
            return True
        if event.seq != channel.last_seq + 1:
            return False
        channel.last_seq = event.seq
        for listener in list(channel.listeners):
            try:
                listener.deliver(event)
            except Exception:
                log.exception("event listener failed")
        return True

    async def catch_up(self, account_id: str) -> None:
        """Fetch and deliver, in order, every event of the account the hub has not delivered yet."""
        while (channel := self._channels.get(account_id)) is not None and channel.last_seq is not None:
            batch = await self._event_log.after_seq(account_id=account_id, after_seq=channel.last_seq)
            for event in batch:
                self._ingest(event)
            if len(batch) < MAX_REPLAY_BATCH:
                return

    async def _receive_forever(self) -> None:
        while True:
            channel_name, message = await self._transport.next_message()
            try:
                event = EventRecord.from_json(message)
            except (ValueError, KeyError, TypeError):
                log.warning("dropped a malformed bus message on %s", channel_name)
                continue
            if not self._ingest(event):
                try:
                    await self.catch_up(event.account_id)
                except Exception:
                    log.warning("gap fill failed; reconcile will retry")

    async def _reconcile_forever(self) -> None:
        while True:
            await asyncio.sleep(self._reconcile_interval)
            try:
                await self.reconcile()
            except Exception:
                log.warning("event reconcile failed; will retry")

    async def reconcile(self) -> None:
        latest = await self._event_log.latest_seqs(list(self._channels))
        for account_id, seq in latest.items():
            channel = self._channels.get(account_id)
            if channel is not None and channel.last_seq is not None and seq > channel.last_seq:
                await self.catch_up(account_id)
