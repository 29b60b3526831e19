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
    external_id: str | None = strawberry.field(
        default=None,
        description="The user's id in the login of a trusted backend that starts sessions for it (POST "
        "/api/sessions); unique within the account. Null for users who sign in with a password here.",
    )


@strawberry.type(description="Where a session was started from, derived from its User-Agent (or named at login).")
class Device:
    type: DeviceType
    label: str = strawberry.field(description="Human label, e.g. 'Chrome 131 on macOS' or the name given at login.")
    browser: str | None
    os: str | None
    user_agent: str = strawberry.field(
        description="The User-Agent as shown: without control, format (bidi, zero-width) or other invisible "
        "characters, at most 500 characters."
    )
    raw_user_agent: str = strawberry.field(
        description="The User-Agent exactly as received (NUL aside): may hold invisible characters, so escape "
        "them before showing it."
    )


@strawberry.type(description="An approximate place, looked up from the session's address when it started.")
class Location:
    country_code: str = strawberry.field(description="ISO 3166-1 alpha-2, e.g. 'DE'.")
    country: str = strawberry.field(description="The country's English name, e.g. 'Germany'.")
    city: str | None


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
    ended_by: User | None = strawberry.field(
        description=(
            "Who ended it (the user themself or an administrator); null while it grants access, and after expiry "
            "or a limit."
        )
    )
    is_new_device: bool = strawberry.field(
        description=(
            "True when the user had no earlier session from a device like this one (same browser, OS and device type)."
        )
    )
    location: Location | None = strawberry.field(
        description=(
            "Where the address places it: null when location lookup is off, or the address is private or unknown."
        )
    )


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
class ChangePasswordPayload:
    ended_sessions: list[Session] = strawberry.field(description="The sessions this call ended.")


@strawberry.type
class LogoutSessionsPayload:
    count: int = strawberry.field(description="How many sessions this call ended.")
    sessions: list[Session]


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


@strawberry.input(description="Criteria for ending sessions in bulk: a session must match every criterion given.")
class SessionFilter:
    user_id: strawberry.ID | None = None
    ip_prefix: str | None = strawberry.field(
        default=None, description="An address or a network in CIDR notation, IPv4 or IPv6, e.g. '203.0.113.0/24'."
    )
    device_type: DeviceType | None = None
    started_before: datetime | None = strawberry.field(
        default=None, description="Only sessions that started before this instant."
    )
    idle_only: bool | None = strawberry.field(default=False, description="Only sessions that are IDLE.")


@strawberry.input
class ChangePasswordInput:
    current_password: str
    new_password: str
    logout_other_sessions: bool | None = strawberry.field(
        default=True, description="End every other session of the user (reason PASSWORD_CHANGED)."
    )
