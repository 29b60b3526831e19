"""Enumerations stored as plain strings."""

from enum import StrEnum


class SessionStatus(StrEnum):
    ACTIVE = "ACTIVE"
    IDLE = "IDLE"
    ENDED = "ENDED"


class EndReason(StrEnum):
    LOGGED_OUT = "LOGGED_OUT"
    REVOKED = "REVOKED"
    REVOKED_BY_ADMIN = "REVOKED_BY_ADMIN"
    EXPIRED = "EXPIRED"
    PASSWORD_CHANGED = "PASSWORD_CHANGED"  # noqa: S105 (an end reason, not a password)
    SESSION_LIMIT = "SESSION_LIMIT"


class DeviceType(StrEnum):
    DESKTOP = "DESKTOP"
    MOBILE = "MOBILE"
    TABLET = "TABLET"
    BOT = "BOT"
    OTHER = "OTHER"


class EventType(StrEnum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    ENDED = "ENDED"
