"""GraphQL enums, mirroring `models.enums` value for value, with the contract's descriptions."""

from enum import Enum

import strawberry


@strawberry.enum
class SessionStatus(Enum):
    ACTIVE = strawberry.enum_value("ACTIVE", description="Used within the idle window.")
    IDLE = strawberry.enum_value(
        "IDLE", description="Not used within the idle window, not yet expired: still grants access."
    )
    ENDED = strawberry.enum_value("ENDED", description="Logged out, revoked or expired: grants no access any more.")


@strawberry.enum
class EndReason(Enum):
    LOGGED_OUT = strawberry.enum_value("LOGGED_OUT", description="Ended by its own device (logout).")
    REVOKED = strawberry.enum_value("REVOKED", description="Ended from another session of the same user.")
    REVOKED_BY_ADMIN = strawberry.enum_value(
        "REVOKED_BY_ADMIN", description="Ended by an administrator of the account."
    )
    EXPIRED = strawberry.enum_value("EXPIRED", description="Idle or absolute timeout reached.")
    PASSWORD_CHANGED = strawberry.enum_value(
        "PASSWORD_CHANGED", description="Ended because the user's password changed (every other session of that user)."
    )
    SESSION_LIMIT = strawberry.enum_value(
        "SESSION_LIMIT",
        description=(
            "Ended to keep the user within the concurrent-session limit (the least recently used session goes)."
        ),
    )


@strawberry.enum
class DeviceType(Enum):
    DESKTOP = "DESKTOP"
    MOBILE = "MOBILE"
    TABLET = "TABLET"
    BOT = "BOT"
    OTHER = "OTHER"


@strawberry.enum
class SessionEventType(Enum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    ENDED = "ENDED"
