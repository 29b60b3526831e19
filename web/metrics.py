"""`GET /metrics` in the Prometheus text format: open in development, off or token-protected in production."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from core.settings import Settings
from observability.metrics import REGISTRY


def metrics_router(settings: Settings) -> APIRouter:
    router = APIRouter()
    if not settings.metrics_served:
        return router
    expected = settings.metrics_token.get_secret_value() if settings.metrics_token else None

    @router.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        if expected is not None:
            given = request.headers.get("authorization", "")
            if not secrets.compare_digest(given.encode(), f"Bearer {expected}".encode()):
                return Response("metrics need the metrics token\n", status_code=401, media_type="text/plain")
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return router
