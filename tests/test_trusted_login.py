"""Sessions started by a trusted backend's own login (the service function; its HTTP endpoint is tested in
tests/oauth/test_trusted_sessions_http.py), and accounts that turn password login off. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from core.errors import BadUserInput, Forbidden, NotFound, Unauthenticated
from models import EventType, SessionEvent, User
from server import Runtime
from services.trusted_login import start_external_session
from tests.conftest import PASSWORD, People
from tests.support.live_server import PROJECT_ROOT
from tests.test_sessions import sign_in


async def start(runtime: Runtime, account_id: str, external_id: str, **overrides: object) -> object:
    values: dict[str, object] = {
        "email": None,
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/132.0",
        "ip_address": "198.51.100.4",
        "device_name": None,
    } | overrides
    return await start_external_session(
        runtime.database,
        runtime.services.access,
        account_id=account_id,
        external_id=external_id,
        **values,  # type: ignore[arg-type]
    )


async def users(runtime: Runtime) -> int:
    async with runtime.database.session() as db:
        return int((await db.execute(select(func.count()).select_from(User))).scalar_one())


async def test_first_use_creates_the_user_and_every_session_works_like_a_login(
    runtime: Runtime, people: People
) -> None:
    admin = await people.user("admin@acme.test", admin=True)
    other = await people.user("root@other.test", admin=True, account="other")
    before = await users(runtime)
    results = await asyncio.gather(*(start(runtime, admin.account_id, f"ext-{n % 10}") for n in range(20)))
    assert await users(runtime) == before + 10  # ten external ids, each created once
    first = results[0]
    viewer = await runtime.services.access.authenticate(first.token)  # type: ignore[attr-defined]
    assert viewer.account_id == admin.account_id and viewer.session_id == first.session.id  # type: ignore[attr-defined]
    again = await start(runtime, admin.account_id, "ext-0", device_name="Kiosk 4")
    assert again.session.user.id == viewer.user.id and again.session.device_label == "Kiosk 4"  # type: ignore[attr-defined]
    elsewhere = await start(runtime, other.account_id, "ext-0", email="ext0@other.test")  # unique per account only
    assert elsewhere.session.user.id != viewer.user.id and elsewhere.session.user.email == "ext0@other.test"  # type: ignore[attr-defined]
    async with runtime.database.session() as db:
        created = (
            await db.execute(
                select(func.count()).select_from(SessionEvent).where(col(SessionEvent.type) == EventType.CREATED)
            )
        ).scalar_one()
    assert created == 22  # one CREATED event per session, as login writes
    page = await runtime.services.sessions.list_active(viewer, user_id=None, all_users=False, first=50, after=None)
    assert first.session.id in {s.id for s in page.sessions}  # type: ignore[attr-defined]
    await runtime.services.sessions.logout(viewer)
    with pytest.raises(Unauthenticated):
        await runtime.services.access.authenticate(first.token)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("overrides", "external_id"),
    [
        ({}, ""),
        ({}, "x" * 201),
        ({"ip_address": "not-an-address"}, "ext"),
        ({"ip_address": "10.0.0.300"}, "ext"),
        ({"user_agent": "u" * 1001}, "ext"),
        ({"device_name": "d" * 201}, "ext"),
        ({"email": "no-at-sign"}, "ext"),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(
    runtime: Runtime, people: People, overrides: dict[str, object], external_id: str
) -> None:
    admin = await people.user("admin@acme.test", admin=True)
    before = await users(runtime)
    with pytest.raises(BadUserInput):
        await start(runtime, admin.account_id, external_id, **overrides)
    assert await users(runtime) == before


async def test_an_unknown_account_is_not_found(runtime: Runtime) -> None:
    with pytest.raises(NotFound):
        await start(runtime, "no-such-account", "ext")


async def test_password_login_can_be_turned_off_per_account(runtime: Runtime, people: People) -> None:
    await people.user("ana@acme.test")
    await people.user("eve@other.test", account="other")
    env = {**os.environ, "DATABASE_URL": runtime.settings.database_url}
    command = [sys.executable, "server.py", "set-account", "acme", "--password-login", "off"]
    done = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    with pytest.raises(Forbidden, match="Password login is turned off"):
        await sign_in(runtime, "ana@acme.test")
    await sign_in(runtime, "eve@other.test")  # other accounts are unaffected
    bad = subprocess.run(
        [*command[:-1], "maybe"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2 and "BAD_USER_INPUT" in bad.stderr
    missing = [sys.executable, "server.py", "set-account", "nope", "--password-login", "on"]
    gone = subprocess.run(missing, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False)
    assert gone.returncode == 1 and "NOT_FOUND" in gone.stderr
    subprocess.run([*command[:-1], "on"], cwd=PROJECT_ROOT, env=env, check=True, capture_output=True)
    assert (await runtime.services.access.login(
        email="ana@acme.test", password=PASSWORD, device_name=None, user_agent=None, ip_address="203.0.113.1"
    )).token  # fmt: skip
