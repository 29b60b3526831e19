from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlmodel import Field, SQLModel

from core.clock import utc_now
from models.columns import UTCDateTime
from models.enums import EventType


class SessionEvent(SQLModel, table=True):
    """A change of a session, written in the transaction that made it.

    `id` orders all events; `seq` numbers an account's events 1, 2, 3... so a gap is detectable.
    `snapshot` is the JSON of the session (and its user) as it was after the change.
    """

    __tablename__ = "session_event"
    __table_args__ = (
        Index("ux_session_event_account_seq", "account_id", "seq", unique=True),
        Index("ix_session_event_occurred_at", "occurred_at"),
        # The newest event of an account, and its replay, never touch other accounts' events.
        Index("ix_session_event_account_id", "account_id", "id"),
        # A member's own-scope replay reads their events only.
        Index("ix_session_event_account_user_id", "account_id", "user_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: str = Field(foreign_key="account.id", max_length=36)
    seq: int
    session_id: str = Field(foreign_key="login_session.id", index=True, max_length=36)
    user_id: str = Field(foreign_key="user.id", max_length=36)
    type: EventType = Field(sa_type=String(16))
    occurred_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    snapshot: str = Field(sa_type=Text)
    actor_user_id: str | None = Field(default=None, max_length=36)  # who ended the session, if a user did
