"""OAuth answers in the RFC 6749 section 5.2 shape: `{"error": ..., "error_description": ...}`, never cached."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}
REALM = 'Basic realm="active-sessions"'


def oauth_json(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        media_type="application/json",
        headers={**NO_STORE, **(headers or {})},
    )


def oauth_error(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> Response:
    return oauth_json({"error": error, "error_description": description}, status, headers)


def invalid_client() -> Response:
    return oauth_error(401, "invalid_client", "Client authentication failed.", {"www-authenticate": REALM})


def invalid_request(description: str) -> Response:
    return oauth_error(400, "invalid_request", description)
