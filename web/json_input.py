"""JSON from clients (HTTP bodies and websocket messages), where any unreadable input is a client error.

`json.loads` raises more than `JSONDecodeError`: deeply nested arrays exhaust the recursion limit, and an
integer of more than 4,300 digits is refused with a plain `ValueError`. Strawberry catches only
`JSONDecodeError` (HTTP 400, websocket close 4400), so the others would surface as a 500 or a crashed
socket; here they become `JSONDecodeError` too."""

from __future__ import annotations

import json

from cross_web import HTTPException


def decode_json(data: str | bytes) -> object:
    try:
        return json.loads(data)
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError) as exc:
        text = data if isinstance(data, str) else data.decode(errors="replace")
        raise json.JSONDecodeError(f"Unreadable JSON ({type(exc).__name__})", text, 0) from None


def require_request_object(value: object) -> object:
    """An HTTP GraphQL body is an object (or a list, which Strawberry refuses as a batch)."""
    if not isinstance(value, dict | list):
        raise HTTPException(400, "The request body must be a JSON object.")
    return value
