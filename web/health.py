"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from bus.hub import EventHub
from core.database import Database

router = APIRouter()


@router.get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", include_in_schema=False)
async def readyz(request: Request) -> JSONResponse:
    database: Database = request.state.database
    hub: EventHub = request.state.hub
    checks = {"database": await _database_ok(database), "bus": hub.ready}
    return JSONResponse(
        {"ready": all(checks.values()), "checks": checks}, status_code=200 if all(checks.values()) else 503
    )


async def _database_ok(database: Database) -> bool:
    try:
        async with database.session() as db:
            await db.execute(text("SELECT 1"))
    except Exception:
        return False
    return True
