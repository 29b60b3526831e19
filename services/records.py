"""Plain, immutable views of sessions and events, shared by the service, the bus and the resolvers."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Row

from models import DeviceType, EndReason, EventType, LoginSession, SessionEvent, SessionStatus, User


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: str
    account_id: str
    email: str
    is_admin: bool
    external_id: str | None = None  # the user's id in a trusted backend's own login


@dataclass(frozen=True, slots=True)
class LocationRecord:
    """Where an address was placed when the session started (country, and city when the database knows)."""

    country_code: str
    country: str
    city: str | None = None


@dataclass(frozen=True, slots=True)
class SessionRecord:
    id: str
    user: UserRecord
    device_type: DeviceType
    device_label: str
    browser: str | None
    os: str | None
    user_agent: str
    ip_address: str
    status: SessionStatus
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    end_reason: EndReason | None
    ended_by: UserRecord | None = None
    is_new_device: bool = False
    location: LocationRecord | None = None

    def status_at(self, now: datetime, idle_window: timedelta) -> SessionStatus:
        """The status as of `now`: IDLE once unused for the idle window, whatever the sweep has stored yet."""
        if self.ended_at is not None:
            return SessionStatus.ENDED
        return SessionStatus.IDLE if now - self.last_seen_at >= idle_window else SessionStatus.ACTIVE


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A session event as stored, and as carried on the bus (JSON)."""

    id: int
    account_id: str
    seq: int
    type: EventType
    occurred_at: datetime
    session: SessionRecord

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "account_id": self.account_id,
                "seq": self.seq,
                "type": self.type.value,
                "occurred_at": self.occurred_at.isoformat(),
                "session": session_to_dict(self.session),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, payload: str) -> EventRecord:
        data = json.loads(payload)
        return cls(
            id=int(data["id"]),
            account_id=str(data["account_id"]),
            seq=int(data["seq"]),
            type=EventType(data["type"]),
            occurred_at=datetime.fromisoformat(data["occurred_at"]),
            session=session_from_dict(data["session"]),
        )


def user_record(user: User) -> UserRecord:
    return UserRecord(
        id=user.id, account_id=user.account_id, email=user.email, is_admin=user.is_admin, external_id=user.external_id
    )


AnyRow = Row[*tuple[Any, ...]]
# Every column of `login_session`, to select as a core row (which `session_record` reads like an entity).
LOGIN_SESSION_COLUMNS = tuple(LoginSession.__table__.columns)  # type: ignore[attr-defined]


def row_user(row: AnyRow) -> UserRecord:
    """The user of a session row joined with its user's `email`, `is_admin` and `external_id`."""
    fields = row._mapping
    return UserRecord(
        id=fields["user_id"],
        account_id=fields["account_id"],
        email=fields["email"],
        is_admin=fields["is_admin"],
        external_id=fields.get("external_id"),
    )


def session_record(row: LoginSession | AnyRow, user: UserRecord, ended_by: UserRecord | None = None) -> SessionRecord:
    """`ended_by`: the user whose id the row holds in `ended_by_user_id` (the caller looks it up)."""
    # A core row is read through its mapping: by name, that is several times faster than its attributes.
    field: Callable[[str], Any] = row._mapping.__getitem__ if isinstance(row, Row) else partial(getattr, row)
    # Columns a narrower select may leave out read as their defaults.
    optional: Callable[[str], Any] = row._mapping.get if isinstance(row, Row) else partial(getattr, row)
    end_reason = field("end_reason")
    return SessionRecord(
        id=field("id"),
        user=user,
        device_type=DeviceType(field("device_type")),
        device_label=field("device_label"),
        browser=field("browser"),
        os=field("os"),
        user_agent=field("user_agent"),
        ip_address=field("ip_address"),
        status=SessionStatus(field("status")),
        created_at=field("created_at"),
        last_seen_at=field("last_seen_at"),
        expires_at=field("expires_at"),
        ended_at=field("ended_at"),
        end_reason=EndReason(end_reason) if end_reason else None,
        ended_by=ended_by,
        is_new_device=bool(optional("is_new_device")),
        location=_location(optional("location_country_code"), optional("location_country"), optional("location_city")),
    )


def _location(country_code: str | None, country: str | None, city: str | None) -> LocationRecord | None:
    if not country_code:
        return None
    return LocationRecord(country_code=country_code, country=country or country_code, city=city)


def event_record(row: SessionEvent) -> EventRecord:
    assert row.id is not None
    return EventRecord(
        id=row.id,
        account_id=row.account_id,
        seq=row.seq,
        type=EventType(row.type),
        occurred_at=row.occurred_at,
        session=session_from_dict(json.loads(row.snapshot)),
    )


def session_to_dict(record: SessionRecord) -> dict[str, Any]:
    data = asdict(record)
    for key in ("created_at", "last_seen_at", "expires_at", "ended_at"):
        value = data[key]
        data[key] = value.isoformat() if value is not None else None
    return data


def session_from_dict(data: dict[str, Any]) -> SessionRecord:
    def when(key: str) -> datetime | None:
        value = data.get(key)
        return datetime.fromisoformat(value) if value else None

    created_at, last_seen_at, expires_at = when("created_at"), when("last_seen_at"), when("expires_at")
    assert created_at and last_seen_at and expires_at
    return SessionRecord(
        id=data["id"],
        user=UserRecord(**data["user"]),
        device_type=DeviceType(data["device_type"]),
        device_label=data["device_label"],
        browser=data["browser"],
        os=data["os"],
        user_agent=data["user_agent"],
        ip_address=data["ip_address"],
        status=SessionStatus(data["status"]),
        created_at=created_at,
        last_seen_at=last_seen_at,
        expires_at=expires_at,
        ended_at=when("ended_at"),
        end_reason=EndReason(data["end_reason"]) if data.get("end_reason") else None,
        ended_by=UserRecord(**data["ended_by"]) if data.get("ended_by") else None,
        is_new_device=bool(data.get("is_new_device", False)),
        location=LocationRecord(**data["location"]) if data.get("location") else None,
    )
