"""The account-security services, handed to resolvers together."""

from __future__ import annotations

from dataclasses import dataclass

from services.bulk_logout import BulkLogout
from services.password_change import PasswordChange
from services.session_history import SessionHistory


@dataclass(frozen=True, slots=True)
class AccountSecurity:
    history: SessionHistory
    passwords: PasswordChange
    bulk: BulkLogout
