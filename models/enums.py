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
