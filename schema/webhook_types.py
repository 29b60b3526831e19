"""GraphQL types of webhook endpoints and their deliveries (administrators of an account, their own account)."""

from __future__ import annotations

from datetime import datetime

import strawberry


@strawberry.type(description="A URL that receives the account's session events, signed (Standard Webhooks).")
class WebhookEndpoint:
    id: strawberry.ID
    url: str
    event_types: list[str] = strawberry.field(description="Among session.created, session.updated, session.ended.")
    enabled: bool = strawberry.field(description="False once disabled: 410 Gone, or failing for too long.")
    disabled_reason: str | None
    failing_since: datetime | None = strawberry.field(
        description="When the event now being retried first failed; null while deliveries succeed."
    )
    created_at: datetime


@strawberry.type
class WebhookEndpointWithSecret:
    endpoint: WebhookEndpoint
    secret: str = strawberry.field(
        description="The signing secret (whsec_...). Shown this once; the service keeps it encrypted."
    )


@strawberry.type
class DeleteWebhookEndpointPayload:
    endpoint: WebhookEndpoint = strawberry.field(description="The endpoint as it was before it was deleted.")


@strawberry.type(description="One event for one endpoint.")
class WebhookDelivery:
    id: strawberry.ID
    event_id: strawberry.ID
    event_type: str
    webhook_id: str = strawberry.field(description="The webhook-id header: the same on every attempt.")
    status: str = strawberry.field(description="PENDING (retrying), SUCCEEDED, or FAILED (endpoint disabled).")
    attempts: int
    response_code: int | None = strawberry.field(description="The HTTP status of the last attempt, if any came.")
    last_error: str | None = strawberry.field(description="Why the last attempt got no answer (timeout, refused...).")
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    created_at: datetime


@strawberry.input
class CreateWebhookEndpointInput:
    url: str = strawberry.field(description="https:// URL of a public address.")
    event_types: list[str] | None = strawberry.field(default=None, description="Default: every event type.")
