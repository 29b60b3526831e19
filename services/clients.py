"""Client credentials of resource servers (gateways, subgraphs, backends) that introspect tokens.

A client secret is 256 random bits, shown once; only its SHA-256 is stored (a random secret of that size needs
no slow hash) and a presented secret is compared with `hmac.compare_digest`, against a dummy hash when the client
is unknown or revoked, so the answer takes as long either way. Every check reads the database: a revoked client
is refused from its next request on."""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlmodel import col

from core.clock import utc_now
from core.database import Database
from core.errors import BadUserInput, NotFound
from core.tokens import hash_token
from models import Account, OAuthClient

CLIENT_ID_PREFIX = "client_"
MAX_CREDENTIAL_LENGTH = 256
PERMISSION = re.compile(r"^[a-z][a-z0-9_.-]{0,39}:[a-z][a-z0-9_.-]{0,39}$")
_DUMMY_HASH = hash_token(secrets.token_urlsafe(32))

CLIENT_COLUMNS = tuple(OAuthClient.__table__.columns)  # type: ignore[attr-defined]
CLIENT_BY_ID = select(*CLIENT_COLUMNS).where(col(OAuthClient.id) == bindparam("client_id"))


@dataclass(frozen=True, slots=True)
class ClientRecord:
    id: str
    name: str
    account_id: str | None
    account_name: str | None
    permissions: frozenset[str]
    created_at: datetime
    revoked_at: datetime | None

    @property
    def sees_every_account(self) -> bool:
        return self.account_id is None


@dataclass(frozen=True, slots=True)
class CreatedClient:
    client: ClientRecord
    secret: str  # shown once; never stored


def _record(row: OAuthClient, account_name: str | None) -> ClientRecord:
    return ClientRecord(
        id=row.id,
        name=row.name,
        account_id=row.account_id,
        account_name=account_name,
        permissions=frozenset(row.permissions.split()),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def _checked_permissions(permissions: list[str]) -> list[str]:
    for permission in permissions:
        if not PERMISSION.match(permission):
            raise BadUserInput(f"Permission {permission!r} is not of the form resource:action (e.g. sessions:write).")
    return sorted(set(permissions))


async def create_client(
    database: Database, *, name: str, account_name: str | None = None, permissions: list[str] | None = None
) -> CreatedClient:
    name = name.strip()
    if not name or len(name) > 200:
        raise BadUserInput("A client name of 1 to 200 characters is required.")
    granted = _checked_permissions(permissions or [])
    secret = secrets.token_urlsafe(32)
    async with database.session() as db, db.begin():
        account_id = None
        if account_name is not None:
            account = (await db.execute(select(Account).where(col(Account.name) == account_name))).scalar_one_or_none()
            if account is None:
                raise BadUserInput(f"No account named {account_name!r}.")
            account_id = account.id
        row = OAuthClient(
            id=CLIENT_ID_PREFIX + secrets.token_hex(12),
            name=name,
            secret_hash=hash_token(secret),
            account_id=account_id,
            permissions=" ".join(granted),
        )
        db.add(row)
    return CreatedClient(_record(row, account_name), secret)


async def list_clients(database: Database) -> list[ClientRecord]:
    async with database.session() as db:
        rows = (
            await db.execute(
                select(OAuthClient, col(Account.name))
                .outerjoin(Account, col(Account.id) == col(OAuthClient.account_id))
                .order_by(col(OAuthClient.created_at), col(OAuthClient.id))
            )
        ).all()
    return [_record(client, account_name) for client, account_name in rows]


async def revoke_client(database: Database, client_id: str) -> None:
    async with database.session() as db, db.begin():
        revoked = (
            await db.execute(
                update(OAuthClient)
                .where(col(OAuthClient.id) == client_id, col(OAuthClient.revoked_at).is_(None))
                .values(revoked_at=utc_now())
                .returning(col(OAuthClient.id))
            )
        ).scalar_one_or_none()
    if revoked is None:
        raise NotFound(f"No active client {client_id!r}.")


class ClientAuthenticator:
    """Checks presented client credentials against the database, on every call."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def authenticate(self, client_id: str, secret: str) -> ClientRecord | None:
        """The client, or None for an unknown, revoked or wrong one (the same answer and work for all three)."""
        if len(client_id) > MAX_CREDENTIAL_LENGTH or len(secret) > MAX_CREDENTIAL_LENGTH:
            return None
        async with self._database.read_connection() as connection:
            row = (await connection.execute(CLIENT_BY_ID, {"client_id": client_id})).first()
        usable = row is not None and row.revoked_at is None
        expected = row.secret_hash if row is not None and usable else _DUMMY_HASH
        matches = hmac.compare_digest(expected.encode(), hash_token(secret).encode())
        if row is None or not usable or not matches:
            return None
        return ClientRecord(
            id=row.id,
            name=row.name,
            account_id=row.account_id,
            account_name=None,
            permissions=frozenset(row.permissions.split()),
            created_at=row.created_at,
            revoked_at=None,
        )
