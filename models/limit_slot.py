from datetime import datetime

from sqlmodel import Field, SQLModel

from models.columns import UTCDateTime


class LimitSlot(SQLModel, table=True):
    """One slot held under a limit shared by every instance (PostgreSQL deployments without Redis): a login
    attempt in a window, or a live connection's lease. `key` is a hash (no email or address in the clear); the
    slot counts until `expires_at`."""

    __tablename__ = "limit_slot"

    key: str = Field(primary_key=True, max_length=80)
    member: str = Field(primary_key=True, max_length=64)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
