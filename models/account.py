from datetime import datetime

from sqlalchemy import true as sa_true
from sqlmodel import Field, SQLModel

from core.clock import utc_now
from models.columns import UTCDateTime, new_id


class Account(SQLModel, table=True):
    """A tenant. `event_seq` numbers its session events without gaps; events up to
    `pruned_through_event_id` were removed by retention. `open_sessions` counts its sessions not yet ended,
    kept in the transaction that opens or ends one (so `totalCount` never counts rows)."""

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    name: str = Field(unique=True, max_length=200)
    event_seq: int = Field(default=0)
    pruned_through_event_id: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    open_sessions: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    password_login: bool = Field(default=True, sa_column_kwargs={"server_default": sa_true()})
