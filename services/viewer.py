"""Who is calling: the authenticated session and its user."""

from __future__ import annotations

from dataclasses import dataclass

from services.records import UserRecord


@dataclass(frozen=True, slots=True)
class Viewer:
    session_id: str
    user: UserRecord

    @property
    def account_id(self) -> str:
        return self.user.account_id

    @property
    def is_admin(self) -> bool:
        return self.user.is_admin
