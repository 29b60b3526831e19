"""Every request and sweep statement is served by an index at scale (PostgreSQL, planner statistics fresh).

A large account (100,000 open sessions over 100 users, 20,000 ended ones, two events per session) and a
second account holding 100,000 newer events are seeded straight into the tables, then ANALYZE; each
statement, taken from the service's own code, is EXPLAINed with both the planner's custom plan (the values
bound) and its generic plan (what a prepared statement is eventually run with): none may scan
`login_session` or `session_event` sequentially."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy import Select
from sqlalchemy.dialects import postgresql

from core.clock import utc_now
from core.database import migrate_to_latest
from services.access import SESSION_BY_TOKEN
from services.event_log import replay_statement
from services.retention import DUE_EVENTS, DUE_SESSIONS
from services.session_listing import head_statement, page_statement
from services.sweeper import EXPIRED_DUE, IDLE_DUE
from tests.support.databases import POSTGRES_HOST, POSTGRES_PORT, POSTGRES_USER, fresh_postgres_database

pytestmark = pytest.mark.postgres

OPEN_SESSIONS = 100_000
ENDED_SESSIONS = 20_000
USERS = 100
OTHER_EVENTS = 100_000
WATCHED = {"login_session", "session_event"}

SEED = f"""
INSERT INTO account (id, name, event_seq, pruned_through_event_id, open_sessions, created_at)
VALUES ('big', 'big', 0, 0, 0, now()), ('other', 'other', 0, 0, 0, now());
INSERT INTO "user" (id, account_id, email, password_hash, is_admin, open_sessions, created_at)
SELECT 'u-' || g, 'big', 'u' || g || '@big.test', 'x', g = 0, 0, now() FROM generate_series(0, {USERS - 1}) g;
INSERT INTO "user" (id, account_id, email, password_hash, is_admin, open_sessions, created_at)
VALUES ('o-0', 'other', 'o@other.test', 'x', true, 0, now());
INSERT INTO login_session (id, token_hash, user_id, account_id, device_type, device_label, browser, os,
    user_agent, ip_address, status, created_at, last_seen_at, expires_at, ended_at, end_reason)
SELECT 's-' || g, md5('t' || g) || md5('u' || g), 'u-' || (g % {USERS}), 'big', 'DESKTOP', 'Chrome on macOS',
    'Chrome', 'macOS', 'seeded', '192.0.2.1', CASE WHEN g % 50 = 0 THEN 'IDLE' ELSE 'ACTIVE' END,
    now() - g * interval '1 second', now() - (g % 600) * interval '1 second', now() + interval '14 days',
    NULL, NULL
FROM generate_series(1, {OPEN_SESSIONS}) g;
INSERT INTO login_session (id, token_hash, user_id, account_id, device_type, device_label, browser, os,
    user_agent, ip_address, status, created_at, last_seen_at, expires_at, ended_at, end_reason)
SELECT 'e-' || g, md5('e' || g) || md5('f' || g), 'u-' || (g % {USERS}), 'big', 'DESKTOP', 'Chrome on macOS',
    'Chrome', 'macOS', 'seeded', '192.0.2.1', 'ENDED', now() - interval '20 days' - g * interval '1 second',
    now() - interval '20 days', now() - interval '6 days', now() - interval '10 days' - g * interval '1 second',
    'LOGGED_OUT'
FROM generate_series(1, {ENDED_SESSIONS}) g;
INSERT INTO login_session (id, token_hash, user_id, account_id, device_type, device_label, browser, os,
    user_agent, ip_address, status, created_at, last_seen_at, expires_at, ended_at, end_reason)
VALUES ('o-s', repeat('0', 64), 'o-0', 'other', 'DESKTOP', 'x', NULL, NULL, 'x', '192.0.2.1', 'ACTIVE',
    now(), now(), now() + interval '14 days', NULL, NULL);
INSERT INTO session_event (account_id, seq, session_id, user_id, type, occurred_at, snapshot)
SELECT 'big', g, 's-' || (1 + (g - 1) % {OPEN_SESSIONS}), 'u-' || ((1 + (g - 1) % {OPEN_SESSIONS}) % {USERS}),
    CASE WHEN g <= {OPEN_SESSIONS} THEN 'CREATED' ELSE 'UPDATED' END,
    now() - interval '1 hour' + g * interval '1 millisecond', '{{}}'
FROM generate_series(1, {2 * OPEN_SESSIONS}) g;
INSERT INTO session_event (account_id, seq, session_id, user_id, type, occurred_at, snapshot)
SELECT 'other', g, 'o-s', 'o-0', 'UPDATED', now() - interval '1 minute' + g * interval '0.1 millisecond', '{{}}'
FROM generate_series(1, {OTHER_EVENTS}) g;
UPDATE account SET event_seq = (SELECT max(seq) FROM session_event WHERE account_id = account.id),
    open_sessions = (SELECT count(*) FROM login_session WHERE account_id = account.id AND ended_at IS NULL);
UPDATE "user" SET open_sessions =
    (SELECT count(*) FROM login_session WHERE user_id = "user".id AND ended_at IS NULL);
"""


@pytest.fixture
async def seeded() -> AsyncIterator[asyncpg.Connection]:
    async with fresh_postgres_database() as url:
        await migrate_to_latest(url)
        connection = await asyncpg.connect(
            host=POSTGRES_HOST, port=POSTGRES_PORT, user=POSTGRES_USER, database=url.rsplit("/", 1)[1]
        )
        try:
            await connection.execute(SEED)
            await connection.execute("VACUUM ANALYZE")
            yield connection
        finally:
            await connection.close()


def seq_scans(plan: Any) -> Iterator[str]:
    """The watched tables that a plan (EXPLAIN FORMAT JSON) reads with a Seq Scan, at any depth."""
    if isinstance(plan, dict):
        if plan.get("Node Type") == "Seq Scan" and plan.get("Relation Name") in WATCHED:
            yield plan["Relation Name"]
        for value in plan.values():
            yield from seq_scans(value)
    elif isinstance(plan, list):
        for value in plan:
            yield from seq_scans(value)


PRINT_PLANS = False


def nodes(plan: Any) -> Iterator[str]:
    if isinstance(plan, dict):
        if "Node Type" in plan:
            yield f"{plan['Node Type']}:{plan.get('Index Name') or plan.get('Relation Name') or ''}"
        for value in plan.values():
            yield from nodes(value)
    elif isinstance(plan, list):
        for value in plan:
            yield from nodes(value)


async def plan_of(connection: asyncpg.Connection, statement: Any, values: dict[str, Any]) -> Any:
    """EXPLAIN of the statement exactly as SQLAlchemy sends it through asyncpg ($n parameters)."""
    compiled = statement.compile(dialect=postgresql.asyncpg.dialect())  # type: ignore[no-untyped-call]
    parameters = compiled.construct_params(values)
    arguments = [parameters[name] for name in compiled.positiontup or []]
    return json.loads(await connection.fetchval("EXPLAIN (FORMAT JSON) " + compiled.string, *arguments))


async def created_at_of(connection: asyncpg.Connection, session_id: str) -> datetime:
    value = await connection.fetchval("SELECT created_at FROM login_session WHERE id = $1", session_id)
    assert isinstance(value, datetime)
    return value


async def test_no_request_or_sweep_statement_scans_sessions_or_events_sequentially(
    seeded: asyncpg.Connection,
) -> None:
    now = utc_now()
    page_21_account = {"after_created_at": await created_at_of(seeded, "s-1000"), "after_id": "s-1000"}
    page_21_user = {"after_created_at": await created_at_of(seeded, "s-50007"), "after_id": "s-50007"}
    mid_event = int(await seeded.fetchval("SELECT id FROM session_event WHERE account_id = 'big' AND seq = 150000"))
    account = {"scope": "big", "now": now, "account_id": "big", "limit": 51}
    user = {"scope": "u-7", "now": now, "account_id": "big", "limit": 51}
    cases: dict[str, tuple[Select[Any] | Any, dict[str, Any]]] = {
        "token lookup": (SESSION_BY_TOKEN, {"token_hash": "0" * 64}),
        "account head (totalCount, eventCursor)": (head_statement("account"), account),
        "user head (totalCount, eventCursor)": (head_statement("user"), user),
        "account first page": (page_statement("account", False), account),
        "account page 21": (page_statement("account", True), {**account, **page_21_account}),
        "user first page": (page_statement("user", False), user),
        "user page 21": (page_statement("user", True), {**user, **page_21_user}),
        "own-scope replay": (
            replay_statement(own_scope=True),
            {"account_id": "big", "after_id": mid_event, "user_id": "u-7", "limit": 500},
        ),
        "account replay": (
            replay_statement(own_scope=False),
            {"account_id": "big", "after_id": mid_event, "limit": 500},
        ),
        "expiry sweep": (EXPIRED_DUE, {"now": now, "limit": 200}),
        "idle sweep": (IDLE_DUE, {"idle_since": now - timedelta(minutes=15), "limit": 200}),
        "retention: events": (DUE_EVENTS, {"cutoff": now - timedelta(days=30), "limit": 1000}),
        "retention: sessions": (DUE_SESSIONS, {"cutoff": now - timedelta(days=30), "limit": 1000}),
    }
    unindexed = json.loads(await seeded.fetchval("EXPLAIN (FORMAT JSON) SELECT * FROM login_session WHERE os = 'x'"))
    assert list(seq_scans(unindexed)) == ["login_session"]  # the check sees a sequential scan where there is one
    found: dict[str, list[str]] = {}
    for mode in ("force_custom_plan", "force_generic_plan"):
        await seeded.execute(f"SET plan_cache_mode = {mode}")
        for name, (statement, values) in cases.items():
            plan = await plan_of(seeded, statement, values)
            scans = list(seq_scans(plan))
            if PRINT_PLANS:
                print(name, mode, plan[0]["Plan"]["Total Cost"], sorted(set(nodes(plan))))
            if scans:
                found[f"{name} ({mode})"] = scans
    assert found == {}
