"""Managing an account's webhook endpoints: from the command line (by account name) and by the account's
administrators (GraphQL). The signing secret is returned once, at creation or rotation, and kept encrypted."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.database import Database
from core.errors import BadUserInput, Forbidden, NotFound
from core.secret_box import SecretBox
from core.settings import Settings
from models import Account, WebhookDelivery, WebhookEndpoint
from services.event_log import latest_event_id_of
from services.sessions import may_exist
from services.viewer import Viewer
from services.webhook_messages import ALL_EVENT_TYPES, new_secret
from services.webhook_targets import resolve_target

ENDPOINT_NOT_FOUND = "Webhook endpoint not found."
MAX_DELIVERIES_PAGE = 100


@dataclass(frozen=True, slots=True)
class EndpointRecord:
    id: str
    account_id: str
    url: str
    event_types: tuple[str, ...]
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class EndpointWithSecret:
    endpoint: EndpointRecord
    secret: str


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    id: int
    event_id: int
    event_type: str
    webhook_id: str
    status: str
    attempts: int
    response_code: int | None
    last_error: str | None
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    created_at: datetime


def endpoint_record(row: WebhookEndpoint) -> EndpointRecord:
    return EndpointRecord(
        id=row.id,
        account_id=row.account_id,
        url=row.url,
        event_types=tuple(row.event_types.split(",")),
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        failing_since=row.failing_since,
        created_at=row.created_at,
    )


def delivery_record(row: WebhookDelivery) -> DeliveryRecord:
    assert row.id is not None
    return DeliveryRecord(
        id=row.id,
        event_id=row.event_id,
        event_type=row.event_type,
        webhook_id=row.webhook_id,
        status=row.status,
        attempts=row.attempts,
        response_code=row.response_code,
        last_error=row.last_error,
        last_attempt_at=row.last_attempt_at,
        next_attempt_at=row.next_attempt_at,
        created_at=row.created_at,
    )


def parse_event_types(types: Iterable[str] | None) -> tuple[str, ...]:
    """The event types asked for (all when none are named), in a fixed order; an unknown one is bad input."""
    if types is None:
        return ALL_EVENT_TYPES
    wanted = {name.strip() for name in types if name.strip()}
    unknown = sorted(wanted - set(ALL_EVENT_TYPES))
    if unknown:
        raise BadUserInput(f"Unknown event type {unknown[0]!r}: use {', '.join(ALL_EVENT_TYPES)}.")
    if not wanted:
        raise BadUserInput(f"Name at least one event type: {', '.join(ALL_EVENT_TYPES)}.")
    return tuple(name for name in ALL_EVENT_TYPES if name in wanted)


class WebhookService:
    def __init__(self, database: Database, settings: Settings) -> None:
        self._database = database
        self._settings = settings

    # Command line: the operator names the account.

    async def create_in_account(
        self, account_name: str, url: str, event_types: Iterable[str] | None = None
    ) -> EndpointWithSecret:
        async with self._database.session() as db:
            account_id = (
                await db.execute(select(col(Account.id)).where(col(Account.name) == account_name))
            ).scalar_one_or_none()
        if account_id is None:
            raise NotFound(f"No account named {account_name!r}.")
        return await self.create(account_id=account_id, url=url, event_types=event_types)

    async def list_all(self) -> list[EndpointRecord]:
        async with self._database.session() as db:
            rows = await db.execute(select(WebhookEndpoint).order_by(col(WebhookEndpoint.created_at)))
            return [endpoint_record(row) for row in rows.scalars().all()]

    async def remove(self, endpoint_id: str) -> None:
        await self._remove(endpoint_id, account_id=None)

    # Administrators of an account, for their own account only.

    async def endpoints_for(self, viewer: Viewer) -> list[EndpointRecord]:
        _require_admin(viewer)
        async with self._database.session() as db:
            rows = await db.execute(
                select(WebhookEndpoint)
                .where(col(WebhookEndpoint.account_id) == viewer.account_id)
                .order_by(col(WebhookEndpoint.created_at))
            )
            return [endpoint_record(row) for row in rows.scalars().all()]

    async def create_for(self, viewer: Viewer, url: str, event_types: Iterable[str] | None) -> EndpointWithSecret:
        _require_admin(viewer)
        return await self.create(account_id=viewer.account_id, url=url, event_types=event_types)

    async def delete_for(self, viewer: Viewer, endpoint_id: str) -> EndpointRecord:
        _require_admin(viewer)
        return await self._remove(endpoint_id, account_id=viewer.account_id)

    async def rotate_secret_for(self, viewer: Viewer, endpoint_id: str) -> EndpointWithSecret:
        """A new secret, in force from the next attempt on; the old one stops working at once."""
        _require_admin(viewer)
        secret = new_secret()
        box = SecretBox.from_settings(self._settings)
        async with self._database.session() as db, db.begin():
            row = await _owned(db, endpoint_id, viewer.account_id)
            row.secret_encrypted = box.encrypt(secret)
            db.add(row)
            await db.flush()
            record = endpoint_record(row)
        return EndpointWithSecret(endpoint=record, secret=secret)

    async def deliveries_for(self, viewer: Viewer, endpoint_id: str, *, first: int) -> list[DeliveryRecord]:
        """The endpoint's deliveries, newest event first."""
        _require_admin(viewer)
        if not 0 <= first <= MAX_DELIVERIES_PAGE:
            raise BadUserInput(f"first must be between 0 and {MAX_DELIVERIES_PAGE}.")
        async with self._database.session() as db:
            await _owned(db, endpoint_id, viewer.account_id)
            rows = await db.execute(
                select(WebhookDelivery)
                .where(col(WebhookDelivery.endpoint_id) == endpoint_id)
                .order_by(col(WebhookDelivery.event_id).desc())
                .limit(first)
            )
            return [delivery_record(row) for row in rows.scalars().all()]

    # Shared.

    async def create(self, *, account_id: str, url: str, event_types: Iterable[str] | None) -> EndpointWithSecret:
        """A new endpoint, which receives the account's events from now on. The URL is checked (and resolved)
        first: bad input changes nothing."""
        types = parse_event_types(event_types)
        resolved = await resolve_target(url, self._settings)
        box = SecretBox.from_settings(self._settings)
        secret = new_secret()
        async with self._database.session() as db, db.begin():
            latest = (await db.execute(select(latest_event_id_of(account_id)))).scalar_one_or_none()
            row = WebhookEndpoint(
                account_id=account_id,
                url=resolved.target.url,
                event_types=",".join(types),
                secret_encrypted=box.encrypt(secret),
                cursor_event_id=int(latest or 0),
            )
            db.add(row)
            await db.flush()
            record = endpoint_record(row)
        return EndpointWithSecret(endpoint=record, secret=secret)

    async def _remove(self, endpoint_id: str, *, account_id: str | None) -> EndpointRecord:
        async with self._database.session() as db, db.begin():
            row = await _owned(db, endpoint_id, account_id)
            record = endpoint_record(row)
            await db.execute(delete(WebhookDelivery).where(col(WebhookDelivery.endpoint_id) == endpoint_id))
            await db.execute(delete(WebhookEndpoint).where(col(WebhookEndpoint.id) == endpoint_id))
        return record

    async def enable(self, endpoint_id: str) -> EndpointRecord:
        """Deliver again to a disabled endpoint, from the event it stopped at."""
        async with self._database.session() as db, db.begin():
            await _owned(db, endpoint_id, None)
            await db.execute(
                update(WebhookEndpoint)
                .where(col(WebhookEndpoint.id) == endpoint_id)
                .values(enabled=True, disabled_reason=None, failing_since=None, next_attempt_at=None)
            )
            row = await _owned(db, endpoint_id, None)
            await db.refresh(row)
            return endpoint_record(row)


async def _owned(db: AsyncSession, endpoint_id: str, account_id: str | None) -> WebhookEndpoint:
    """The endpoint, if it exists (and belongs to `account_id`, when given): NOT_FOUND otherwise, the same
    for another account's endpoint as for none."""
    row = await db.get(WebhookEndpoint, endpoint_id) if may_exist(endpoint_id) else None
    if row is None or (account_id is not None and row.account_id != account_id):
        raise NotFound(ENDPOINT_NOT_FOUND)
    return row


def _require_admin(viewer: Viewer) -> None:
    if not viewer.is_admin:
        raise Forbidden("Only administrators of the account may manage its webhooks.")
