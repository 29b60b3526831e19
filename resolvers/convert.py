"""Service records to GraphQL types."""

from __future__ import annotations

from datetime import datetime, timedelta

import strawberry

from schema.enums import DeviceType, EndReason, SessionEventType, SessionStatus
from schema.types import Device, Location, Session, SessionEvent, User
from services.device import shown_label, shown_software, shown_user_agent
from services.records import EventRecord, LocationRecord, SessionRecord, UserRecord


def to_user(record: UserRecord) -> User:
    return User(
        id=strawberry.ID(record.id), email=record.email, is_admin=record.is_admin, external_id=record.external_id
    )


def to_session(
    record: SessionRecord, *, viewer_session_id: str | None, now: datetime, idle_window: timedelta | None
) -> Session:
    """`idle_window` given: status as of now; None: the status recorded (for event snapshots)."""
    status = record.status_at(now, idle_window) if idle_window is not None else record.status
    until = record.ended_at or now
    return Session(
        id=strawberry.ID(record.id),
        user=to_user(record.user),
        device=Device(
            type=DeviceType(record.device_type.value),
            label=shown_label(record.device_label) or "Unknown device",
            browser=shown_software(record.browser),
            os=shown_software(record.os),
            user_agent=shown_user_agent(record.user_agent),
            raw_user_agent=record.user_agent,
        ),
        ip_address=record.ip_address,
        status=SessionStatus(status.value),
        created_at=record.created_at,
        last_seen_at=record.last_seen_at,
        expires_at=record.expires_at,
        ended_at=record.ended_at,
        end_reason=EndReason(record.end_reason.value) if record.end_reason else None,
        duration_seconds=max(0, int((until - record.created_at).total_seconds())),
        is_current=record.id == viewer_session_id,
        ended_by=to_user(record.ended_by) if record.ended_by else None,
        is_new_device=record.is_new_device,
        location=to_location(record.location) if record.location else None,
    )


def to_location(record: LocationRecord) -> Location:
    return Location(country_code=record.country_code, country=record.country, city=record.city)


def to_event(record: EventRecord, *, viewer_session_id: str | None, now: datetime) -> SessionEvent:
    return SessionEvent(
        id=strawberry.ID(str(record.id)),
        type=SessionEventType(record.type.value),
        session=to_session(record.session, viewer_session_id=viewer_session_id, now=now, idle_window=None),
        occurred_at=record.occurred_at,
    )
