"""SQLModel tables: the data, with no GraphQL, HTTP or bus in sight."""

from models.account import Account
from models.enums import DeviceType, EndReason, EventType, SessionStatus
from models.event import SessionEvent
from models.limit_slot import LimitSlot
from models.login_session import LoginSession
from models.oauth_client import OAuthClient
from models.user import User
from models.webhook import WebhookDelivery, WebhookEndpoint

__all__ = [
    "Account",
    "DeviceType",
    "EndReason",
    "EventType",
    "LimitSlot",
    "LoginSession",
    "OAuthClient",
    "SessionEvent",
    "SessionStatus",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
]
