"""Administrators ending sessions by criteria, in short batches.

Each batch reads up to `batch_size` matching open sessions of the administrator's account (keyset on id),
ends them in one short transaction (one ENDED event each, REVOKED_BY_ADMIN, `endedBy` the administrator),
publishes after commit and yields to the event loop, so a filter matching ten thousand sessions never holds
the database or other requests for long. Address prefixes are matched here, not in SQL (SQLite has no
network type), on the addresses of the batch."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from core.clock import utc_now
from core.database import Database
from core.errors import BadUserInput, Forbidden, NotFound
from core.settings import Settings
from models import EndReason, LoginSession, User
from services.event_log import EventPublisher
from services.records import SessionRecord
from services.session_store import end_where
from services.sessions import USER_NOT_FOUND, may_exist
from services.viewer import Viewer

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 200
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class BulkCriteria:
    user_id: str | None = None
    ip_prefix: str | None = None
    device_type: str | None = None
    started_before: datetime | None = None
    idle_only: bool = False

    @property
    def empty(self) -> bool:
        given = (self.user_id, self.ip_prefix, self.device_type, self.started_before)
        return all(value is None for value in given) and not self.idle_only


class BulkLogout:
    def __init__(
        self, database: Database, publisher: EventPublisher, settings: Settings, *, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> None:
        self._database = database
        self._publisher = publisher
        self._settings = settings
        self._batch_size = batch_size

    async def logout(self, viewer: Viewer, criteria: BulkCriteria) -> list[SessionRecord]:
        """End every session of the viewer's account that still grants access and matches every criterion."""
        if not viewer.is_admin:
            raise Forbidden("Only administrators of the account may end sessions in bulk.")
        if criteria.empty:
            raise BadUserInput("Give at least one criterion: userId, ipPrefix, deviceType, startedBefore or idleOnly.")
        network = parse_prefix(criteria.ip_prefix) if criteria.ip_prefix is not None else None
        if criteria.user_id is not None:
            await self._require_user_of_account(viewer, criteria.user_id)
        now = utc_now()
        conditions = self._conditions(viewer, criteria, now)
        ended: list[SessionRecord] = []
        after_id = ""
        while True:
            async with self._database.read_connection() as connection:
                query = (
                    select(col(LoginSession.id), col(LoginSession.ip_address))
                    .where(*conditions, col(LoginSession.id) > after_id)
                    .order_by(col(LoginSession.id))
                    .limit(self._batch_size)
                )
                rows = (await connection.execute(query)).all()
            if not rows:
                break
            after_id = rows[-1].id
            wanted = [row.id for row in rows if network is None or _in_network(row.ip_address, network)]
            if wanted:
                async with self._database.session() as db, db.begin():
                    batch, events = await end_where(
                        db,
                        col(LoginSession.id).in_(wanted) & (col(LoginSession.account_id) == viewer.account_id),
                        EndReason.REVOKED_BY_ADMIN,
                        utc_now(),
                        ended_by=viewer.user,
                    )
                await self._publisher.publish(events)
                ended += batch
            await asyncio.sleep(0)  # let other requests run between batches
        log.info("sessions ended in bulk", extra={"count": len(ended)})
        return ended

    async def _require_user_of_account(self, viewer: Viewer, user_id: str) -> None:
        account_id = None
        if may_exist(user_id):
            async with self._database.read_connection() as connection:
                query = select(col(User.account_id)).where(col(User.id) == user_id)
                account_id = (await connection.execute(query)).scalar_one_or_none()
        if account_id != viewer.account_id:
            raise NotFound(USER_NOT_FOUND)

    def _conditions(self, viewer: Viewer, criteria: BulkCriteria, now: datetime) -> list[Any]:
        conditions: list[Any] = [
            col(LoginSession.account_id) == viewer.account_id,
            col(LoginSession.ended_at).is_(None),
            col(LoginSession.expires_at) > now,
        ]
        if criteria.user_id is not None:
            conditions.append(col(LoginSession.user_id) == criteria.user_id)
        if criteria.device_type is not None:
            conditions.append(col(LoginSession.device_type) == criteria.device_type)
        if criteria.started_before is not None:
            before = criteria.started_before
            conditions.append(col(LoginSession.created_at) < (before if before.tzinfo else before.replace(tzinfo=UTC)))
        if criteria.idle_only:  # IDLE as of now, whatever the sweep has stored yet
            idle_since = now - timedelta(seconds=self._settings.idle_window_seconds)
            conditions.append(col(LoginSession.last_seen_at) <= idle_since)
        return conditions


def parse_prefix(value: str) -> IpNetwork:
    """An address or a CIDR network, IPv4 or IPv6; anything else (a /33, garbage) is BAD_USER_INPUT."""
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError as exc:
        raise BadUserInput("ipPrefix must be an address or a network in CIDR notation, e.g. 203.0.113.0/24.") from exc


def _in_network(address: str, network: IpNetwork) -> bool:
    try:
        return ipaddress.ip_address(address) in network
    except ValueError:
        return False
