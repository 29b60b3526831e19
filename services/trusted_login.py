"""Sessions started by a trusted backend's own login: the user is named by its `external_id` within the account
(created on first use) and gets the same session and bearer token as `login` gives, with the same events."""

from __future__ import annotations

import ipaddress
import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from core.database import Database
from core.errors import BadUserInput, NotFound
from models import Account, User
from services.access import AccessService, LoginResult
from services.device import MAX_LABEL_LENGTH, MAX_USER_AGENT_LENGTH
from services.records import UserRecord, user_record

MAX_EXTERNAL_ID_LENGTH = 200
MAX_EMAIL_LENGTH = 320
NO_PASSWORD = "!"  # not an argon2 hash: no password ever matches it  # noqa: S105
SYNTHETIC_EMAIL_DOMAIN = "external.invalid"


def _checked(
    *, external_id: str, email: str | None, user_agent: str, ip_address: str, device_name: str | None
) -> tuple[str, str | None, str]:
    external_id = external_id.strip()
    if not external_id or len(external_id) > MAX_EXTERNAL_ID_LENGTH or not external_id.isprintable():
        raise BadUserInput(f"external_id is required: 1 to {MAX_EXTERNAL_ID_LENGTH} printable characters.")
    if email is not None:
        email = email.strip().lower()
        if "@" not in email or len(email) > MAX_EMAIL_LENGTH or not email.isprintable():
            raise BadUserInput("email must be a valid email address.")
    if len(user_agent) > MAX_USER_AGENT_LENGTH:
        raise BadUserInput(f"user_agent must be at most {MAX_USER_AGENT_LENGTH} characters.")
    if device_name is not None and len(device_name) > MAX_LABEL_LENGTH:
        raise BadUserInput(f"device_name must be at most {MAX_LABEL_LENGTH} characters.")
    try:
        address = str(ipaddress.ip_address(ip_address.strip()))
    except ValueError as exc:
        raise BadUserInput("ip_address must be an IPv4 or IPv6 address.") from exc
    return external_id, email, address


async def start_external_session(
    db: Database,
    access: AccessService,
    *,
    account_id: str,
    external_id: str,
    email: str | None,
    user_agent: str,
    ip_address: str,
    device_name: str | None,
) -> LoginResult:
    """Bad input changes nothing (`BAD_USER_INPUT`); an unknown account is `NOT_FOUND`."""
    external_id, email, address = _checked(
        external_id=external_id, email=email, user_agent=user_agent, ip_address=ip_address, device_name=device_name
    )
    user = await _user_for(db, account_id=account_id, external_id=external_id, email=email)
    return await access.start_session(user, device_name=device_name, user_agent=user_agent, ip_address=address)


async def _user_for(db: Database, *, account_id: str, external_id: str, email: str | None) -> UserRecord:
    query = select(User).where(col(User.account_id) == account_id, col(User.external_id) == external_id)
    async with db.session() as session:
        found = (await session.execute(query)).scalar_one_or_none()
        if found is not None:
            return user_record(found)
        if (await session.get(Account, account_id)) is None:
            raise NotFound("Account not found.")
    try:
        async with db.session() as session, session.begin():
            user = User(
                account_id=account_id,
                external_id=external_id,
                email=email or f"{uuid.uuid4()}@{SYNTHETIC_EMAIL_DOMAIN}",
                password_hash=NO_PASSWORD,
            )
            session.add(user)
        return user_record(user)
    except IntegrityError as exc:
        async with db.session() as session:  # created meanwhile by a concurrent first use?
            found = (await session.execute(query)).scalar_one_or_none()
        if found is None:
            raise BadUserInput("A user with this email already exists.") from exc
        return user_record(found)
