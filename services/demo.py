"""Demo data: an account with an administrator and a member, logged in from several devices."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from core.database import Database, create_engine, migrate_to_latest
from core.errors import BadUserInput
from core.settings import Settings
from services.access import AccessService
from services.accounts import create_user
from services.records import EventRecord

DEMO_ACCOUNT = "demo"
_UA = {
    "mac": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "iphone": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1",
    "windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "ipad": "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1",
    "android": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
}
DEMO_DEVICES = {
    "admin@demo.example": [(_UA["mac"], "203.0.113.10"), (_UA["iphone"], "198.51.100.7")],
    "member@demo.example": [
        (_UA["windows"], "192.0.2.44"),
        (_UA["ipad"], "192.0.2.45"),
        (_UA["android"], "192.0.2.46"),
    ],
}


class _NoBus:
    """Events are already in the event table; a running server's reconcile delivers them."""

    async def publish(self, events: Sequence[EventRecord]) -> None:
        return None


async def seed_demo(settings: Settings) -> list[str]:
    await migrate_to_latest(settings.database_url)
    database = Database(create_engine(settings.database_url))
    access = AccessService(database, _NoBus(), settings)
    lines = [f"Demo account {DEMO_ACCOUNT!r}:"]
    try:
        for email, devices in DEMO_DEVICES.items():
            password = secrets.token_urlsafe(12)
            try:
                await create_user(
                    database,
                    email=email,
                    password=password,
                    is_admin=email.startswith("admin"),
                    account_name=DEMO_ACCOUNT,
                )
            except BadUserInput:
                lines.append(f"  {email} exists already; skipped (delete the database to seed afresh).")
                continue
            lines.append(f"  {email}  password: {password}{'  (administrator)' if email.startswith('admin') else ''}")
            for user_agent, ip_address in devices:
                result = await access.login(
                    email=email, password=password, device_name=None, user_agent=user_agent, ip_address=ip_address
                )
                lines.append(f"    session {result.session.id}: {result.session.device_label} from {ip_address}")
    finally:
        await database.dispose()
    return lines
