"""Accounts and users (used by the CLI and by tests; there is no sign-up API)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from core.database import Database
from core.errors import BadUserInput, NotFound
from core.passwords import hash_password
from models import Account, User
from services.records import UserRecord, user_record

MIN_PASSWORD_LENGTH = 8
DEFAULT_ACCOUNT = "default"


async def create_user(
    database: Database, *, email: str, password: str, is_admin: bool = False, account_name: str = DEFAULT_ACCOUNT
) -> UserRecord:
    """Create a user in the named account (created when missing)."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 320:
        raise BadUserInput("A valid email address is required.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadUserInput(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
    password_hash = hash_password(password)
    try:
        async with database.session() as db, db.begin():
            account = (await db.execute(select(Account).where(Account.name == account_name))).scalar_one_or_none()  # type: ignore[arg-type]
            if account is None:
                account = Account(name=account_name)
                db.add(account)
                await db.flush()
            user = User(account_id=account.id, email=email, password_hash=password_hash, is_admin=is_admin)
            db.add(user)
    except IntegrityError as exc:
        raise BadUserInput("A user with this email already exists.") from exc
    return user_record(user)


async def set_password_login(database: Database, *, account_name: str, enabled: bool) -> None:
    """Allow or refuse password login for the account's users (refused: only a trusted backend signs them in)."""
    async with database.session() as db, db.begin():
        result = await db.execute(
            update(Account).where(Account.name == account_name).values(password_login=enabled)  # type: ignore[arg-type]
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise NotFound(f"No account named {account_name!r}.")
