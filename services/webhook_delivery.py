"""The webhook delivery worker: one per instance, reading the session-event table as its outbox.

Each endpoint has a cursor (the newest event it has handled) and is delivered to by one instance at a time,
under a lease in its row (taken with `FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's writes are serialised
anyway). Events go out one at a time in event order: the next waits until the one before succeeded, so a
receiver sees an endpoint's events in order, each at least once. A failure (5xx or any non-2xx answer, a
timeout, a refused connection, an address that is no longer allowed) is retried with exponential back-off and
jitter; 410 Gone, or failing for `WEBHOOK_DISABLE_AFTER_SECONDS`, disables the endpoint. An attempt's record
is committed while the next event is being sent. A lease held by an instance that died expires, and another
instance resends from the last recorded event (the one the dead instance was sending, and any success it had
not recorded yet): nothing is lost."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import socket
from datetime import datetime, timedelta

import httpx
from sqlalchemy import exists, select, update
from sqlmodel import col

from core.clock import utc_now
from core.database import Database
from core.errors import ServiceUnavailable, UnsafeWebhookUrl
from core.secret_box import SecretBox
from core.settings import Settings
from models import SessionEvent, WebhookDelivery, WebhookEndpoint
from services.webhook_messages import event_body, event_type_name, sign, webhook_id
from services.webhook_sender import AttemptResult, new_client, send
from services.webhook_targets import ResolvedTarget, resolve_target

log = logging.getLogger(__name__)

EVENTS_PER_CLAIM = 100  # then the lease is given back, so other endpoints get their turn

PENDING = "PENDING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"


def retry_delay(attempts: int, settings: Settings) -> float:
    """Exponential back-off from `WEBHOOK_RETRY_BASE_SECONDS`, capped, with up to 25% jitter (so many
    endpoints failing together do not retry together)."""
    doubled: float = settings.webhook_retry_base_seconds * 2.0 ** min(max(0, attempts - 1), 40)
    return min(settings.webhook_retry_max_seconds, doubled) * random.uniform(1.0, 1.25)


class WebhookWorker:
    def __init__(self, database: Database, settings: Settings, *, owner: str | None = None) -> None:
        self._database = database
        self._settings = settings
        self._owner = owner or f"{socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(4)}"
        self._box: SecretBox | None = None

    @property
    def owner(self) -> str:
        return self._owner

    async def run_forever(self) -> None:
        tasks: set[asyncio.Task[None]] = set()
        async with new_client(self._settings.webhook_timeout_seconds) as client:
            try:
                while True:
                    try:
                        while len(tasks) < self._settings.webhook_concurrency:
                            endpoint_id = await self.claim()
                            if endpoint_id is None:
                                break
                            task = asyncio.create_task(self._work(client, endpoint_id), name="webhook-endpoint")
                            tasks.add(task)
                            task.add_done_callback(tasks.discard)
                    except ServiceUnavailable:
                        log.warning("webhook delivery paused: database unavailable")
                    except Exception:
                        log.exception("webhook delivery loop failed; will retry")
                    await asyncio.sleep(self._settings.webhook_poll_seconds)
            finally:
                for task in list(tasks):
                    task.cancel()
                for task in list(tasks):
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task

    async def deliver_due(self) -> None:
        """Work through every endpoint due now, until none is (for tests and one-off runs)."""
        async with new_client(self._settings.webhook_timeout_seconds) as client:
            while (endpoint_id := await self.claim()) is not None:
                await self._work(client, endpoint_id)

    def _lease_until(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self._settings.webhook_timeout_seconds + self._settings.webhook_lease_seconds)

    async def claim(self) -> str | None:
        """Lease one enabled endpoint that has events after its cursor and no retry pending later, and that no
        live instance holds; the one leased longest ago first."""
        now = utc_now()
        pending = exists().where(
            col(SessionEvent.account_id) == col(WebhookEndpoint.account_id),
            col(SessionEvent.id) > col(WebhookEndpoint.cursor_event_id),
        )
        query = (
            select(col(WebhookEndpoint.id))
            .where(
                col(WebhookEndpoint.enabled).is_(True),
                (col(WebhookEndpoint.lease_expires_at).is_(None)) | (col(WebhookEndpoint.lease_expires_at) < now),
                (col(WebhookEndpoint.next_attempt_at).is_(None)) | (col(WebhookEndpoint.next_attempt_at) <= now),
                pending,
            )
            .order_by(col(WebhookEndpoint.lease_expires_at).asc().nulls_first(), col(WebhookEndpoint.id))
            .limit(1)
            .with_for_update(skip_locked=True, of=WebhookEndpoint)
        )
        async with self._database.session() as db, db.begin():
            endpoint_id = (await db.execute(query)).scalar_one_or_none()
            if endpoint_id is None:
                return None
            await db.execute(
                update(WebhookEndpoint)
                .where(col(WebhookEndpoint.id) == endpoint_id)
                .values(lease_owner=self._owner, lease_expires_at=self._lease_until(now))
            )
        return str(endpoint_id)

    async def _work(self, client: httpx.AsyncClient, endpoint_id: str) -> None:
        """Deliver the leased endpoint's events in order, up to `EVENTS_PER_CLAIM`, a batch of events read at a
        time (`_deliver_batch`)."""
        try:
            endpoint = await self._renew(endpoint_id)
            handled = 0
            while endpoint is not None and endpoint.enabled and handled < EVENTS_PER_CLAIM:
                if endpoint.next_attempt_at is not None and endpoint.next_attempt_at > utc_now():
                    return
                events = await self._events_after(endpoint, EVENTS_PER_CLAIM - handled)
                if not events:
                    return
                handled += len(events)
                endpoint = await self._deliver_batch(client, endpoint, events)
        except ServiceUnavailable:
            log.warning("webhook delivery to endpoint %s paused: database unavailable", endpoint_id)
        except Exception:
            log.exception("webhook delivery to endpoint %s failed; will retry", endpoint_id)
        finally:
            with contextlib.suppress(Exception):
                await self._release(endpoint_id)

    async def _deliver_batch(
        self, client: httpx.AsyncClient, endpoint: WebhookEndpoint, events: list[SessionEvent]
    ) -> WebhookEndpoint | None:
        """The endpoint afterwards, to go on with; None to stop (a failure waits for its retry, or the lease or
        the endpoint is gone). Each attempt's record is committed while the next event is already being sent
        (several at once when sending is faster than committing), so a killed instance repeats at most the
        events it was sending or recording."""
        wanted = set(endpoint.event_types.split(","))
        target: ResolvedTarget | UnsafeWebhookUrl
        try:
            target = await resolve_target(endpoint.url, self._settings)  # at delivery time: DNS may have changed
        except UnsafeWebhookUrl as exc:
            target = exc
        secret = self._secret_box().decrypt(endpoint.secret_encrypted)
        recorder = _Recorder(self, endpoint)
        try:
            for event in events:
                assert event.id is not None
                if event_type_name(event.type) not in wanted:
                    recorder.skip(event.id)  # not wanted: the cursor passes it with the next record
                    continue
                result = await self._attempt(client, event, secret, target)
                recorder.add(event, result)
                if not result.succeeded or recorder.stopped:
                    break
            return await recorder.finish()
        finally:
            recorder.cancel()

    async def _renew(self, endpoint_id: str) -> WebhookEndpoint | None:
        """Extend our lease and read the endpoint afresh; None once the lease is no longer ours (or the
        endpoint is gone)."""
        async with self._database.session() as db, db.begin():
            return (
                await db.execute(
                    update(WebhookEndpoint)
                    .where(col(WebhookEndpoint.id) == endpoint_id, col(WebhookEndpoint.lease_owner) == self._owner)
                    .values(lease_expires_at=self._lease_until(utc_now()))
                    .returning(WebhookEndpoint)
                    .execution_options(synchronize_session=False)
                )
            ).scalar_one_or_none()

    async def _release(self, endpoint_id: str) -> None:
        async with self._database.session() as db, db.begin():
            await db.execute(
                update(WebhookEndpoint)
                .where(col(WebhookEndpoint.id) == endpoint_id, col(WebhookEndpoint.lease_owner) == self._owner)
                .values(lease_owner=None, lease_expires_at=utc_now())
            )

    async def _events_after(self, endpoint: WebhookEndpoint, limit: int) -> list[SessionEvent]:
        async with self._database.session() as db:
            rows = await db.execute(
                select(SessionEvent)
                .where(
                    col(SessionEvent.account_id) == endpoint.account_id,
                    col(SessionEvent.id) > endpoint.cursor_event_id,
                )
                .order_by(col(SessionEvent.id))
                .limit(limit)
            )
            return list(rows.scalars().all())

    def _secret_box(self) -> SecretBox:
        if self._box is None:
            self._box = SecretBox.from_settings(self._settings)
        return self._box

    async def _attempt(
        self, client: httpx.AsyncClient, event: SessionEvent, secret: str, target: ResolvedTarget | UnsafeWebhookUrl
    ) -> AttemptResult:
        assert event.id is not None
        if isinstance(target, UnsafeWebhookUrl):
            return AttemptResult(status_code=None, response_body=None, error=target.message[:200])
        message = sign(secret=secret, message_id=webhook_id(event.id), body=event_body(event), at=utc_now())
        return await send(client, target, message)

    async def record(
        self, endpoint: WebhookEndpoint, attempts: list[tuple[SessionEvent, AttemptResult]], skipped_to: int | None
    ) -> WebhookEndpoint | None:
        """In one transaction: the attempts' delivery rows (created on a first attempt), the endpoint's cursor
        (past the last success and the unwanted events after it) or retry time, and our lease renewed. The
        endpoint as recorded; None once the lease is no longer ours."""
        now = utc_now()
        event_ids = [event.id for event, _ in attempts]
        endpoint_values: dict[str, object] = {}
        disabled_reason: str | None = None
        async with self._database.session() as db, db.begin():
            found = (
                await db.execute(
                    select(WebhookDelivery).where(
                        col(WebhookDelivery.endpoint_id) == endpoint.id, col(WebhookDelivery.event_id).in_(event_ids)
                    )
                )
            ).scalars()
            deliveries = {delivery.event_id: delivery for delivery in found}
            for event, result in attempts:
                assert event.id is not None
                delivery = deliveries.get(event.id)
                if delivery is None:
                    delivery = WebhookDelivery(
                        endpoint_id=endpoint.id,
                        event_id=event.id,
                        event_type=event_type_name(event.type),
                        webhook_id=webhook_id(event.id),
                        status=PENDING,
                    )
                    db.add(delivery)
                delivery.attempts += 1
                values, disabled_reason = self._outcome(endpoint, delivery, event.id, result, now)
                endpoint_values |= values
                delivery.response_code = result.status_code
                delivery.response_body = result.response_body
                delivery.last_error = result.error
                delivery.last_attempt_at = now
            if skipped_to is not None:
                endpoint_values |= {"cursor_event_id": skipped_to}
            recorded = (
                await db.execute(
                    update(WebhookEndpoint)
                    .where(col(WebhookEndpoint.id) == endpoint.id, col(WebhookEndpoint.lease_owner) == self._owner)
                    .values(**endpoint_values, lease_expires_at=self._lease_until(now))
                    .returning(WebhookEndpoint)
                    .execution_options(synchronize_session=False)
                )
            ).scalar_one_or_none()
        failed = [(event, result) for event, result in attempts if not result.succeeded]
        if disabled_reason:
            log.warning("webhook endpoint %s disabled: %s", endpoint.id, disabled_reason)
        elif failed:
            log.info(
                "webhook attempt failed",
                extra={
                    "endpoint_id": endpoint.id,
                    "event_id": failed[0][0].id,
                    "status_code": failed[0][1].status_code,
                },
            )
        return recorded

    def _outcome(
        self, endpoint: WebhookEndpoint, delivery: WebhookDelivery, event_id: int, result: AttemptResult, now: datetime
    ) -> tuple[dict[str, object], str | None]:
        """Sets the delivery's status and next attempt; the endpoint's new values and why it is disabled, if so."""
        if result.succeeded:
            delivery.status, delivery.next_attempt_at = SUCCEEDED, None
            return {"cursor_event_id": event_id, "failing_since": None, "next_attempt_at": None}, None
        failing_since = endpoint.failing_since or now
        disabled_reason: str | None = None
        if result.gone:
            disabled_reason = "410 Gone"
        elif now - failing_since >= timedelta(seconds=self._settings.webhook_disable_after_seconds):
            disabled_reason = "failing since " + failing_since.isoformat(timespec="seconds")
        retry_at = None if disabled_reason else now + timedelta(seconds=retry_delay(delivery.attempts, self._settings))
        delivery.status, delivery.next_attempt_at = (FAILED if disabled_reason else PENDING), retry_at
        values: dict[str, object] = {"failing_since": failing_since, "next_attempt_at": retry_at}
        if disabled_reason:
            values |= {"enabled": False, "disabled_reason": disabled_reason}
        return values, disabled_reason


class _Recorder:
    """Records one endpoint's attempts in order, in the background: whatever accumulated while the previous
    record was committing goes in the next one."""

    def __init__(self, worker: WebhookWorker, endpoint: WebhookEndpoint) -> None:
        self._worker = worker
        self._endpoint: WebhookEndpoint | None = endpoint
        self._attempts: list[tuple[SessionEvent, AttemptResult]] = []
        self._skipped_to: int | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def stopped(self) -> bool:
        """The lease or the endpoint is gone, or the endpoint was disabled: send no more."""
        return self._endpoint is None or not self._endpoint.enabled

    def add(self, event: SessionEvent, result: AttemptResult) -> None:
        self._attempts.append((event, result))
        self._skipped_to = None  # the cursor moves to this event (on success) or stays before it
        if self._task is not None and self._task.done() and self._task.exception() is not None:
            raise self._task.exception()  # type: ignore[misc]  # a record failed: stop sending
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="webhook-record")

    def skip(self, event_id: int) -> None:
        self._skipped_to = event_id

    async def _run(self) -> None:
        while self._attempts and self._endpoint is not None:
            attempts, self._attempts = self._attempts, []
            failed = not attempts[-1][1].succeeded
            skipped_to, self._skipped_to = (None, self._skipped_to) if failed else (self._skipped_to, None)
            self._endpoint = await self._worker.record(self._endpoint, attempts, skipped_to)

    async def finish(self) -> WebhookEndpoint | None:
        """Every attempt recorded; the endpoint to go on with, or None to stop."""
        if self._task is not None:
            await self._task
        if self._skipped_to is not None and self._endpoint is not None:
            self._endpoint = await self._worker.record(self._endpoint, [], self._skipped_to)
        endpoint = self._endpoint
        if endpoint is None or not endpoint.enabled or endpoint.next_attempt_at is not None:
            return None
        return endpoint

    def cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
