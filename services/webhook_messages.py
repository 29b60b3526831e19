"""What a webhook carries: the Standard Webhooks headers and signature, and the JSON body of a session event."""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from standardwebhooks import Webhook

from models import EventType, SessionEvent

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
SECRET_BYTES = 32

EVENT_TYPES: dict[EventType, str] = {
    EventType.CREATED: "session.created",
    EventType.UPDATED: "session.updated",
    EventType.ENDED: "session.ended",
}
ALL_EVENT_TYPES = tuple(EVENT_TYPES.values())


def new_secret() -> str:
    """`whsec_` and 32 random bytes in base64, as the Standard Webhooks libraries expect."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def webhook_id(event_id: int) -> str:
    """The `webhook-id` of an event: the same on every attempt, so receivers can drop repeats."""
    return f"evt_{event_id}"


def event_type_name(event_type: EventType | str) -> str:
    return EVENT_TYPES[EventType(event_type)]


def event_body(event: SessionEvent) -> bytes:
    """The body, built from the event row alone: byte for byte the same on every attempt."""
    assert event.id is not None
    snapshot: dict[str, Any] = json.loads(event.snapshot)
    session = {
        "id": snapshot["id"],
        "user_id": snapshot["user"]["id"],
        "user_external_id": snapshot["user"].get("external_id"),
        "status": snapshot["status"],
        "device": {
            "type": snapshot["device_type"],
            "label": snapshot["device_label"],
            "browser": snapshot["browser"],
            "os": snapshot["os"],
            "user_agent": snapshot["user_agent"],
        },
        "ip_address": snapshot["ip_address"],
        "created_at": snapshot["created_at"],
        "ended_at": snapshot["ended_at"],
        "end_reason": snapshot["end_reason"],
    }
    body = {
        "type": event_type_name(event.type),
        "timestamp": event.occurred_at.isoformat(),
        "data": {
            "event_id": event.id,
            "account_id": event.account_id,
            "session": session,
            "actor_user_id": event.actor_user_id,
        },
    }
    return json.dumps(body, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class SignedMessage:
    headers: dict[str, str]
    body: bytes


def sign(*, secret: str, message_id: str, body: bytes, at: datetime) -> SignedMessage:
    """Standard Webhooks headers for one attempt (the timestamp is the attempt's, so it is signed anew)."""
    signature = Webhook(secret).sign(message_id, at, body)
    return SignedMessage(
        headers={
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature,
        },
        body=body,
    )
