"""GraphQL object types. Plain data: the resolvers fill them from service records.

`User` and `Session` are federation entities (`@key(fields: "id")`): a gateway may ask this service for them by
id; `schema.root` wires each to its lookup in `resolvers.entities`."""

from __future__ import annotations

from datetime import datetime

import strawberry

from schema.enums import DeviceType, EndReason, SessionEventType, SessionStatus


@strawberry.federation.type(keys=["id"])
class User:
    id: strawberry.ID
    email: str
    is_admin: bool


@strawberry.type(description="Where a session was started from, derived from its User-Agent (or named at login).")
class Device:
    type: DeviceType
    label: str = strawberry.field(description="Human label, e.g. 'Chrome 131 on macOS' or the name given at login.")
    browser: str | None
    os: str | None
    user_agent: str


@strawberry.federation.type(keys=["id"])
class Session:
    id: strawberry.ID = strawberry.field(description="Opaque and unguessable.")
    user: User
    device: Device
    ip_address: str = strawberry.field(
        description="Client address as seen by the service (X-Forwarded-For only from trusted proxies)."
    )
    status: SessionStatus
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    end_reason: EndReason | None
    duration_seconds: int = strawberry.field(
        description="The seed's Time column: seconds from createdAt until now (or until endedAt)."
    )
    is_current: bool = strawberry.field(description="True for the session that made this request.")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class SessionEdge:
    cursor: str
    node: Session


@strawberry.type
class SessionConnection:
    edges: list[SessionEdge]
    nodes: list[Session]
    page_info: PageInfo
    total_count: int = strawberry.field(
        description=(
            "Exact number of sessions in the scope that still grant access (every page of the list), read\n"
            "from counters kept in the same transaction as every login and logout: its cost does not grow\n"
            "with the number of sessions."
        )
    )
    event_cursor: strawberry.ID = strawberry.field(
        description=(
            "The newest session event of the account when this list was read: subscribe to sessionEvents\n"
            "with after set to this value to receive every change since, with no gap."
        )
    )


@strawberry.type
class LoginPayload:
    token: str = strawberry.field(description="Bearer token for this session. Shown once; only its hash is stored.")
    session: Session


@strawberry.type
class LogoutSessionPayload:
    session: Session = strawberry.field(description="The ended session (status ENDED).")


@strawberry.type
class LogoutOtherSessionsPayload:
    sessions: list[Session] = strawberry.field(description="Every session that this call ended.")


@strawberry.type
class SessionEvent:
    id: strawberry.ID = strawberry.field(description="Increases with every event of an account: the resume cursor.")
    type: SessionEventType
    session: Session
    occurred_at: datetime


@strawberry.input
class LoginInput:
    email: str
    password: str
    device_name: str | None = strawberry.field(
        default=None, description="Optional name for this device, shown as its label."
    )
