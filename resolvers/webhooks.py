"""Webhook endpoint resolvers: the service checks that the caller administers the endpoint's account."""

from __future__ import annotations

import strawberry

from schema.context import Context
from schema.webhook_types import (
    CreateWebhookEndpointInput,
    DeleteWebhookEndpointPayload,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointWithSecret,
)
from services.webhooks import DeliveryRecord, EndpointRecord, EndpointWithSecret


def to_endpoint(record: EndpointRecord) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=strawberry.ID(record.id),
        url=record.url,
        event_types=list(record.event_types),
        enabled=record.enabled,
        disabled_reason=record.disabled_reason,
        failing_since=record.failing_since,
        created_at=record.created_at,
    )


def _with_secret(created: EndpointWithSecret) -> WebhookEndpointWithSecret:
    return WebhookEndpointWithSecret(endpoint=to_endpoint(created.endpoint), secret=created.secret)


def to_delivery(record: DeliveryRecord) -> WebhookDelivery:
    return WebhookDelivery(
        id=strawberry.ID(str(record.id)),
        event_id=strawberry.ID(str(record.event_id)),
        event_type=record.event_type,
        webhook_id=record.webhook_id,
        status=record.status,
        attempts=record.attempts,
        response_code=record.response_code,
        last_error=record.last_error,
        last_attempt_at=record.last_attempt_at,
        next_attempt_at=record.next_attempt_at,
        created_at=record.created_at,
    )


async def webhook_endpoints(info: strawberry.Info[Context, None]) -> list[WebhookEndpoint]:
    caller = await info.context.viewer()
    return [to_endpoint(r) for r in await info.context.services.webhooks.endpoints_for(caller)]


async def webhook_deliveries(
    info: strawberry.Info[Context, None], endpoint_id: strawberry.ID, first: int | None = 50
) -> list[WebhookDelivery]:
    caller = await info.context.viewer()
    records = await info.context.services.webhooks.deliveries_for(
        caller, str(endpoint_id), first=50 if first is None else first
    )
    return [to_delivery(r) for r in records]


async def create_webhook_endpoint(
    info: strawberry.Info[Context, None], input: CreateWebhookEndpointInput
) -> WebhookEndpointWithSecret:
    caller = await info.context.viewer()
    return _with_secret(await info.context.services.webhooks.create_for(caller, input.url, input.event_types))


async def delete_webhook_endpoint(
    info: strawberry.Info[Context, None], id: strawberry.ID
) -> DeleteWebhookEndpointPayload:
    caller = await info.context.viewer()
    return DeleteWebhookEndpointPayload(
        endpoint=to_endpoint(await info.context.services.webhooks.delete_for(caller, str(id)))
    )


async def rotate_webhook_secret(info: strawberry.Info[Context, None], id: strawberry.ID) -> WebhookEndpointWithSecret:
    caller = await info.context.viewer()
    return _with_secret(await info.context.services.webhooks.rotate_secret_for(caller, str(id)))
