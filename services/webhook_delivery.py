"""The webhook delivery worker: one per instance, reading the session-event table as its outbox.

Each endpoint has a cursor (the newest event it has handled) and is delivered to by one instance at a time,
under a lease in its row (taken with `FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's writes are serialised
anyway). Events go out one at a time in event order: the next waits until the one before succeeded, so a
receiver sees an endpoint's events in order, each at least once. A failure (5xx or any non-2xx answer, a
timeout, a refused connection, an address that is no longer allowed) is retried with exponential back-off and
jitter; 410 Gone, or failing for `WEBHOOK_DISABLE_AFTER_SECONDS`, disables the endpoint. A lease held by an
instance that died expires, and another instance retries the event it was delivering: nothing is lost."""

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
from services.webhook_targets import resolve_target

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
        try:
            handled = 0
            while handled < EVENTS_PER_CLAIM:
                endpoint = await self._renew(endpoint_id)
                if endpoint is None or not endpoint.enabled:
                    return
                if endpoint.next_attempt_at is not None and endpoint.next_attempt_at > utc_now():
                    return
                events = await self._events_after(endpoint, EVENTS_PER_CLAIM - handled)
                if not events:
                    return
                for event in events:
                    handled += 1
                    if event_type_name(event.type) not in endpoint.event_types.split(","):
                        if not await self._advance(endpoint_id, event.id or 0):
                            return
                        continue
                    if not await self._attempt(client, endpoint, event):
                        return  # failed: the next events wait for this one's retry
                    endpoint = await self._renew(endpoint_id)
                    if endpoint is None or not endpoint.enabled:
                        return
        except ServiceUnavailable:
            log.warning("webhook delivery to endpoint %s paused: database unavailable", endpoint_id)
        except Exception:
            log.exception("webhook delivery to endpoint %s failed; will retry", endpoint_id)
        finally:
            with contextlib.suppress(Exception):
                await self._release(endpoint_id)

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

    async def _advance(self, endpoint_id: str, event_id: int) -> bool:
        """Past an event the endpoint does not want; False once the lease is no longer ours."""
        statement = (
            update(WebhookEndpoint)
            .where(col(WebhookEndpoint.id) == endpoint_id, col(WebhookEndpoint.lease_owner) == self._owner)
            .values(cursor_event_id=event_id)
        )
        async with self._database.session() as db, db.begin():
            return bool((await db.execute(statement)).rowcount)  # type: ignore[attr-defined]

    def _secret_box(self) -> SecretBox:
        if self._box is None:
            self._box = SecretBox.from_settings(self._settings)
        return self._box

    async def _attempt(self, client: httpx.AsyncClient, endpoint: WebhookEndpoint, event: SessionEvent) -> bool:
        """One attempt at the endpoint's head event, recorded; True when it succeeded."""
        assert event.id is not None
        delivery = await self._delivery(endpoint.id, event)
        at = utc_now()
        try:
            resolved = await resolve_target(endpoint.url, self._settings)  # again now: DNS may have changed
        except UnsafeWebhookUrl as exc:
            result = AttemptResult(status_code=None, response_body=None, error=exc.message[:200])
        else:
            secret = self._secret_box().decrypt(endpoint.secret_encrypted)
            message = sign(secret=secret, message_id=delivery.webhook_id, body=event_body(event), at=at)
            result = await send(client, resolved, message)
        await self._record(endpoint, delivery, event.id, result)
        return result.succeeded

    async def _delivery(self, endpoint_id: str, event: SessionEvent) -> WebhookDelivery:
        assert event.id is not None
        async with self._database.session() as db, db.begin():
            found = (
                await db.execute(
                    select(WebhookDelivery).where(
                        col(WebhookDelivery.endpoint_id) == endpoint_id, col(WebhookDelivery.event_id) == event.id
                    )
                )
            ).scalar_one_or_none()
            if found is not None:
                return found
            delivery = WebhookDelivery(
                endpoint_id=endpoint_id,
                event_id=event.id,
                event_type=event_type_name(event.type),
                webhook_id=webhook_id(event.id),
                status=PENDING,
            )
            db.add(delivery)
        return delivery

    async def _record(
        self, endpoint: WebhookEndpoint, delivery: WebhookDelivery, event_id: int, result: AttemptResult
    ) -> None:
        now = utc_now()
        attempts = delivery.attempts + 1
        endpoint_values: dict[str, object]
        disabled_reason: str | None = None
        if result.succeeded:
            status = SUCCEEDED
            next_attempt: datetime | None = None
            endpoint_values = {"cursor_event_id": event_id, "failing_since": None, "next_attempt_at": None}
        else:
            failing_since = endpoint.failing_since or now
            if result.gone:
                disabled_reason = "410 Gone"
            elif now - failing_since >= timedelta(seconds=self._settings.webhook_disable_after_seconds):
                disabled_reason = "failing since " + failing_since.isoformat(timespec="seconds")
            next_attempt = None if disabled_reason else now + timedelta(seconds=retry_delay(attempts, self._settings))
            status = FAILED if disabled_reason else PENDING
            endpoint_values = {"failing_since": failing_since, "next_attempt_at": next_attempt}
            if disabled_reason:
                endpoint_values |= {"enabled": False, "disabled_reason": disabled_reason}
        async with self._database.session() as db, db.begin():
            await db.execute(
                update(WebhookDelivery)
                .where(col(WebhookDelivery.id) == delivery.id)
                .values(
                    attempts=attempts,
                    status=status,
                    response_code=result.status_code,
                    response_body=result.response_body,
                    last_error=result.error,
                    last_attempt_at=now,
                    next_attempt_at=next_attempt,
                )
            )
            await db.execute(
                update(WebhookEndpoint)
                .where(col(WebhookEndpoint.id) == endpoint.id, col(WebhookEndpoint.lease_owner) == self._owner)
                .values(**endpoint_values)
            )
        if disabled_reason:
            log.warning("webhook endpoint %s disabled: %s", endpoint.id, disabled_reason)
        elif not result.succeeded:
            log.info(
                "webhook attempt failed",
                extra={"endpoint_id": endpoint.id, "event_id": event_id, "status_code": result.status_code},
            )
