"""The query baseline: one Starlette endpoint doing what `activeSessions` does, with no GraphQL.

POST /graphql with the console's `activeSessions` request body and `Authorization: Bearer <token>`:
the same token check as the service (SHA-256 of the token looked up with its user, ended and expired
sessions refused, `last_seen_at` touched at most once per touch interval), the same two queries (count,
then one page of the caller's open sessions newest first, joined with their user) through SQLAlchemy
core on the same database, the same fields and cursors, answered as the same JSON document.

Served by the same uvicorn settings as `server.py serve` (asyncio loop, one process, info logging).

    DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1/db python bench/raw_starlette_app.py --port 9002
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from sqlalchemy import Boolean, Column, DateTime, MetaData, String, Table, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

metadata = MetaData()
login_session = Table(
    "login_session",
    metadata,
    Column("id", String, primary_key=True),
    Column("token_hash", String),
    Column("user_id", String),
    Column("account_id", String),
    Column("device_type", String),
    Column("device_label", String),
    Column("browser", String),
    Column("os", String),
    Column("ip_address", String),
    Column("status", String),
    Column("created_at", DateTime(timezone=True)),
    Column("last_seen_at", DateTime(timezone=True)),
    Column("expires_at", DateTime(timezone=True)),
    Column("ended_at", DateTime(timezone=True)),
)
user = Table(
    "user",
    metadata,
    Column("id", String, primary_key=True),
    Column("account_id", String),
    Column("email", String),
    Column("is_admin", Boolean),
)

IDLE_WINDOW = timedelta(seconds=float(os.environ.get("IDLE_WINDOW_SECONDS", "900")))
TOUCH_INTERVAL = timedelta(seconds=float(os.environ.get("TOUCH_INTERVAL_SECONDS", "60")))
IDLE_TIMEOUT = timedelta(seconds=float(os.environ.get("IDLE_TIMEOUT_SECONDS", "1209600")))
ABSOLUTE_LIFETIME = timedelta(seconds=float(os.environ.get("ABSOLUTE_LIFETIME_SECONDS", "2592000")))
MAX_PAGE_SIZE = 100


def unauthenticated() -> JSONResponse:
    error = {"message": "Missing, invalid or ended session token.", "extensions": {"code": "UNAUTHENTICATED"}}
    return JSONResponse({"data": None, "errors": [error]})


def cursor(created_at: datetime, session_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), session_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


async def active_sessions(request: Request) -> Response:
    engine: AsyncEngine = request.app.state.engine
    body = json.loads(await request.body())
    variables = body.get("variables") or {}
    first = int(variables.get("first") or 50)
    if not 0 <= first <= MAX_PAGE_SIZE:
        return JSONResponse({"data": None, "errors": [{"message": "first out of range"}]})
    token = bearer(request.headers.get("authorization"))
    if token is None:
        return unauthenticated()
    now = datetime.now(UTC)
    async with engine.begin() as connection:
        found = (
            await connection.execute(
                select(login_session, user.c.email, user.c.is_admin)
                .join(user, user.c.id == login_session.c.user_id)
                .where(login_session.c.token_hash == hashlib.sha256(token.encode()).hexdigest())
            )
        ).first()
        if found is None or found.ended_at is not None or found.expires_at <= now:
            return unauthenticated()
        if now - found.last_seen_at >= TOUCH_INTERVAL:
            await connection.execute(
                update(login_session)
                .where(login_session.c.id == found.id, login_session.c.last_seen_at == found.last_seen_at)
                .values(
                    last_seen_at=now,
                    status="ACTIVE",
                    expires_at=min(found.created_at + ABSOLUTE_LIFETIME, now + IDLE_TIMEOUT),
                )
            )
        viewer_session_id, viewer_user_id = found.id, found.user_id
        scope = and_(
            login_session.c.user_id == viewer_user_id,
            login_session.c.ended_at.is_(None),
            login_session.c.expires_at > now,
        )
        total = (await connection.execute(select(func.count()).select_from(login_session).where(scope))).scalar_one()
        rows = (
            await connection.execute(
                select(login_session, user.c.email)
                .join(user, user.c.id == login_session.c.user_id)
                .where(scope)
                .order_by(login_session.c.created_at.desc(), login_session.c.id.desc())
                .limit(first + 1)
            )
        ).all()
    nodes: list[dict[str, Any]] = []
    cursors: list[str] = []
    for row in rows[:first]:
        nodes.append(
            {
                "id": row.id,
                "status": "IDLE" if now - row.last_seen_at >= IDLE_WINDOW else "ACTIVE",
                "createdAt": row.created_at.isoformat(),
                "durationSeconds": max(0, int((now - row.created_at).total_seconds())),
                "ipAddress": row.ip_address,
                "isCurrent": row.id == viewer_session_id,
                "device": {"type": row.device_type, "label": row.device_label, "browser": row.browser, "os": row.os},
                "user": {"id": row.user_id, "email": row.email},
            }
        )
        cursors.append(cursor(row.created_at, row.id))
    return JSONResponse(
        {
            "data": {
                "activeSessions": {
                    "totalCount": total,
                    "pageInfo": {"hasNextPage": len(rows) > first, "endCursor": cursors[-1] if cursors else None},
                    "nodes": nodes,
                }
            }
        }
    )


def create_app(database_url: str) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.engine = create_async_engine(database_url, pool_pre_ping=True, pool_size=10, max_overflow=10)
        try:
            yield
        finally:
            await app.state.engine.dispose()

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[Route("/graphql", active_sessions, methods=["POST"]), Route("/healthz", healthz)], lifespan=lifespan
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9002)
    arguments = parser.parse_args()
    uvicorn.run(
        create_app(os.environ["DATABASE_URL"]),
        host=arguments.host,
        port=arguments.port,
        proxy_headers=False,
        log_level="info",
    )
