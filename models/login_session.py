from datetime import datetime

from sqlalchemy import Index, String, false, text
from sqlmodel import Field, SQLModel

from core.clock import utc_now
from models.columns import UTCDateTime, new_id
from models.enums import DeviceType, EndReason, SessionStatus

OPEN = text("ended_at IS NULL")
OPEN_AND_ACTIVE = text("ended_at IS NULL AND status = 'ACTIVE'")
ENDED = text("ended_at IS NOT NULL")


def _partial(name: str, *columns: str, where: object) -> Index:
    """An index over the rows matching `where` only, on PostgreSQL and SQLite alike."""
    return Index(name, *columns, postgresql_where=where, sqlite_where=where)


class LoginSession(SQLModel, table=True):
    """One device's login. Only the SHA-256 of its bearer token is kept.

    Every statement that reads many sessions has an index of its own, over open sessions only: the listings
    (newest first, scanned backwards from a keyset cursor), the open sessions of a scope already past their
    expiry (taken off its open-session count), the expiry and idle sweeps (due rows first), and retention
    (ended rows by age)."""

    __tablename__ = "login_session"
    __table_args__ = (
        _partial("ix_login_session_account_newest", "account_id", "created_at", "id", where=OPEN),
        _partial("ix_login_session_user_newest", "user_id", "created_at", "id", where=OPEN),
        _partial("ix_login_session_expiry_due", "expires_at", where=OPEN),
        _partial("ix_login_session_account_expiry", "account_id", "expires_at", where=OPEN),
        _partial("ix_login_session_user_expiry", "user_id", "expires_at", where=OPEN),
        _partial("ix_login_session_idle_due", "last_seen_at", where=OPEN_AND_ACTIVE),
        _partial("ix_login_session_ended", "ended_at", where=ENDED),
        Index("ix_login_session_user_history", "user_id", "created_at"),
        Index("ix_login_session_account_history", "account_id", "created_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    token_hash: str = Field(unique=True, max_length=64)
    user_id: str = Field(foreign_key="user.id", max_length=36)
    account_id: str = Field(foreign_key="account.id", max_length=36)
    device_type: DeviceType = Field(sa_type=String(16))
    device_label: str = Field(max_length=200)
    browser: str | None = Field(default=None, max_length=100)
    os: str | None = Field(default=None, max_length=100)
    user_agent: str = Field(max_length=1000)
    ip_address: str = Field(max_length=64)
    status: SessionStatus = Field(default=SessionStatus.ACTIVE, sa_type=String(16))
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    end_reason: EndReason | None = Field(default=None, sa_type=String(32))
    # Account security: who ended it (null for expiry and limits), the device family seen before or not, and
    # where the address placed it at login (null unless geolocation is on and the address is public and known).
    ended_by_user_id: str | None = Field(default=None, foreign_key="user.id", max_length=36)
    device_family: str | None = Field(default=None, max_length=250)
    is_new_device: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    location_country_code: str | None = Field(default=None, max_length=2)
    location_country: str | None = Field(default=None, max_length=100)
    location_city: str | None = Field(default=None, max_length=100)
