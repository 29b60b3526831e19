from datetime import datetime

from sqlalchemy import Text
from sqlmodel import Field, SQLModel

from core.clock import utc_now
from models.columns import UTCDateTime


class OAuthClient(SQLModel, table=True):
    """A resource server (gateway, subgraph, backend) that may introspect tokens. Only the SHA-256 of its secret
    is kept. Bound to an account, it learns only that account's tokens; unbound, every account's.
    `permissions` is a space-separated set (e.g. `sessions:write`)."""

    __tablename__ = "oauth_client"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    secret_hash: str = Field(max_length=64)
    account_id: str | None = Field(default=None, foreign_key="account.id", index=True, max_length=36)
    permissions: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
