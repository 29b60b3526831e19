"""The root types, wiring each field of the contract to its resolver, and each federation entity to its lookup."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping

import strawberry

from resolvers import entities, mutations, queries, subscriptions, webhooks
from schema.federation import EntityLoader
from schema.types import (
    ChangePasswordPayload,
    LoginPayload,
    LogoutOtherSessionsPayload,
    LogoutSessionPayload,
    LogoutSessionsPayload,
    Session,
    SessionConnection,
    SessionEvent,
    User,
)
from schema.webhook_types import (
    DeleteWebhookEndpointPayload,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointWithSecret,
)


@strawberry.type
class Query:
    viewer: User = strawberry.field(resolver=queries.viewer, description="The authenticated user.")
    active_sessions: SessionConnection = strawberry.field(
        resolver=queries.active_sessions,
        description=(
            "Sessions that still grant access (ACTIVE or IDLE), newest first.\n"
            "Default scope: the caller's own sessions. userId: another user of the caller's\n"
            "account (administrators only). allUsers: every user of the caller's account\n"
            "(administrators only)."
        ),
    )
    webhook_endpoints: list[WebhookEndpoint] = strawberry.field(
        resolver=webhooks.webhook_endpoints,
        description="The webhook endpoints of the caller's account (administrators only).",
    )
    webhook_deliveries: list[WebhookDelivery] = strawberry.field(
        resolver=webhooks.webhook_deliveries,
        description="Deliveries to one endpoint of the caller's account, newest event first (administrators only).",
    )
    session_history: SessionConnection = strawberry.field(
        resolver=queries.session_history,
        description=(
            "Every session in the same scopes as activeSessions, ended ones included (until retention deletes them),\n"
            "newest first, each with endedAt, endReason and endedBy."
        ),
    )


@strawberry.type
class Mutation:
    login: LoginPayload = strawberry.mutation(resolver=mutations.login, description="Starts a session for this device.")
    logout: LogoutSessionPayload = strawberry.mutation(
        resolver=mutations.logout, description="Ends the calling session."
    )
    logout_session: LogoutSessionPayload = strawberry.mutation(
        resolver=mutations.logout_session,
        description=(
            "Ends one session at once: it grants no further access, and its open\n"
            "subscriptions are closed. Own sessions for anyone; sessions of any user of the\n"
            "account for administrators. Ending an already ended session changes nothing."
        ),
    )
    logout_other_sessions: LogoutOtherSessionsPayload = strawberry.mutation(
        resolver=mutations.logout_other_sessions, description="Ends every session of the caller except the calling one."
    )
    create_webhook_endpoint: WebhookEndpointWithSecret = strawberry.mutation(
        resolver=webhooks.create_webhook_endpoint,
        description="Adds a webhook endpoint to the caller's account (administrators only); its secret is shown once.",
    )
    delete_webhook_endpoint: DeleteWebhookEndpointPayload = strawberry.mutation(
        resolver=webhooks.delete_webhook_endpoint,
        description="Deletes a webhook endpoint of the caller's account (administrators only).",
    )
    rotate_webhook_secret: WebhookEndpointWithSecret = strawberry.mutation(
        resolver=webhooks.rotate_webhook_secret,
        description="Replaces an endpoint's signing secret; the old one stops at once (administrators only).",
    )
    change_password: ChangePasswordPayload = strawberry.mutation(
        resolver=mutations.change_password,
        description="Changes the caller's password; by default ends every other session of the caller.",
    )
    logout_sessions: LogoutSessionsPayload = strawberry.mutation(
        resolver=mutations.logout_sessions,
        description=(
            "Administrators: ends every session of the account that still grants access and matches every "
            "criterion of\nthe filter (at least one criterion must be given). One ENDED event per session, "
            "reason REVOKED_BY_ADMIN."
        ),
    )


@strawberry.type
class Subscription:
    session_events: AsyncGenerator[SessionEvent, None] = strawberry.subscription(
        resolver=subscriptions.session_events,
        description=(
            "Session changes the caller may see, live: own sessions; with allUsers, every\n"
            "user of the account (administrators only). With after, first replays every\n"
            "event after that id, then goes live, with no gap and no duplicate."
        ),
    )


# `_entities`: what a gateway may look up here by key, in the caller's scope (null where the caller may not see).
ENTITY_LOADERS: Mapping[type, EntityLoader] = {User: entities.users_by_id, Session: entities.sessions_by_id}
