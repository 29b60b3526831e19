"""Changing one's password: the current one verified (throttled like a login), the new one checked, and every
other session of the user ended with PASSWORD_CHANGED in the same transaction (one ENDED event each, so their
sockets close with 4401 on every instance)."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import and_, select, update
from sqlmodel import col

from core.clock import utc_now
from core.database import Database
from core.errors import BadUserInput
from core.passwords import hash_password, verify_password
from models import EndReason, LoginSession, User
from services.event_log import EventPublisher
from services.password_policy import check_new_password
from services.rate_limit import LoginThrottle
from services.records import EventRecord, SessionRecord
from services.session_store import end_where
from services.viewer import Viewer

log = logging.getLogger(__name__)

PASSWORD_CHECKS_AT_ONCE = 2  # argon2 threads, as for logins
WRONG_PASSWORD = "The current password is not correct."  # noqa: S105 (a message, not a secret)
CHANGED_MEANWHILE = "The password was changed meanwhile; try again."


class PasswordChange:
    def __init__(self, database: Database, publisher: EventPublisher, throttle: LoginThrottle) -> None:
        self._database = database
        self._publisher = publisher
        self._throttle = throttle
        self._hashing = asyncio.Semaphore(PASSWORD_CHECKS_AT_ONCE)

    async def change(
        self,
        viewer: Viewer,
        *,
        current_password: str,
        new_password: str,
        logout_other_sessions: bool,
        ip_address: str,
    ) -> list[SessionRecord]:
        """Returns the sessions this call ended. Any refusal changes and ends nothing."""
        check_new_password(new_password, user_inputs=[viewer.user.email, viewer.user.email.partition("@")[0]])
        if new_password == current_password:
            raise BadUserInput("The new password must differ from the current one.")
        # The same windows as logins (address and email): a stolen token cannot be used to guess the password.
        attempt = await self._throttle.begin(address=ip_address, email=viewer.user.email)
        async with self._database.session() as db:
            old_hash = (
                await db.execute(select(col(User.password_hash)).where(col(User.id) == viewer.user.id))
            ).scalar_one()
        async with self._hashing:
            verified = await asyncio.to_thread(verify_password, old_hash, current_password)
        if not verified:
            raise BadUserInput(WRONG_PASSWORD)
        await attempt.succeeded()
        async with self._hashing:
            new_hash = await asyncio.to_thread(hash_password, new_password)
        ended: list[SessionRecord] = []
        events: list[EventRecord] = []
        async with self._database.session() as db, db.begin():
            changed = await db.execute(
                update(User)
                .where(col(User.id) == viewer.user.id, col(User.password_hash) == old_hash)
                .values(password_hash=new_hash)
                .returning(col(User.id))
            )
            if changed.scalar_one_or_none() is None:  # a concurrent change won: this one changes nothing
                raise BadUserInput(CHANGED_MEANWHILE)
            if logout_other_sessions:
                others = and_(col(LoginSession.user_id) == viewer.user.id, col(LoginSession.id) != viewer.session_id)
                ended, events = await end_where(db, others, EndReason.PASSWORD_CHANGED, utc_now(), ended_by=viewer.user)
        await self._publisher.publish(events)
        log.info("password changed", extra={"session_id": viewer.session_id, "ended": len(ended)})
        return ended
