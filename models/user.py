from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from core.clock import utc_now
from models.columns import UTCDateTime, new_id


class User(SQLModel, table=True):
    """`open_sessions` counts the user's sessions not yet ended, kept like `Account.open_sessions`.
    `external_id`: the user's id in a trusted backend's own login, unique within the account."""

    __table_args__ = (Index("ux_user_account_external_id", "account_id", "external_id", unique=True),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    account_id: str = Field(foreign_key="account.id", index=True, max_length=36)
    email: str = Field(unique=True, max_length=320)
    password_hash: str = Field(max_length=200)
    is_admin: bool = Field(default=False)
    open_sessions: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    external_id: str | None = Field(default=None, max_length=200)
