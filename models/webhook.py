from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlmodel import Field, SQLModel

from core.clock import utc_now
from models.columns import UTCDateTime, new_id


class WebhookEndpoint(SQLModel, table=True):
    """A URL of an account that receives its session events, signed with the endpoint's secret.

    `secret_encrypted` is the Fernet token of the `whsec_...` secret (it must be read back to sign).
    `cursor_event_id` is the newest event handled (delivered, or not of a type it wants): events are delivered
    in order, one at a time. `lease_owner`/`lease_expires_at`: the instance delivering now; an expired lease
    (a killed instance) is taken over. `next_attempt_at`: the head event's next retry."""

    __tablename__ = "webhook_endpoint"
    __table_args__ = (Index("ix_webhook_endpoint_due", "enabled", "next_attempt_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    account_id: str = Field(foreign_key="account.id", index=True, max_length=36)
    url: str = Field(max_length=2000)
    event_types: str = Field(max_length=200)
    secret_encrypted: str = Field(sa_type=Text)
    enabled: bool = Field(default=True)
    disabled_reason: str | None = Field(default=None, max_length=200)
    failing_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cursor_event_id: int = Field(default=0)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class WebhookDelivery(SQLModel, table=True):
    """One event for one endpoint: its attempts so far and how the last one went. `webhook_id` is the
    `webhook-id` header, the same on every attempt. `event_id` is no foreign key: retention may prune the event."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ux_webhook_delivery_endpoint_event", "endpoint_id", "event_id", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    endpoint_id: str = Field(foreign_key="webhook_endpoint.id", max_length=36, ondelete="CASCADE")
    event_id: int
    event_type: str = Field(sa_type=String(32))
    webhook_id: str = Field(max_length=64)
    status: str = Field(sa_type=String(16))
    attempts: int = Field(default=0)
    response_code: int | None = Field(default=None)
    response_body: str | None = Field(default=None, max_length=1024)
    last_error: str | None = Field(default=None, max_length=200)
    last_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
