"""GraphQL over HTTP against a running server (httpx)."""

from __future__ import annotations

from typing import Any

import httpx

DESKTOP_CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
WINDOWS_FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0"

LOGIN = """
mutation Login($email: String!, $password: String!, $deviceName: String) {
  login(input: {email: $email, password: $password, deviceName: $deviceName}) {
    token
    session { id isCurrent status device { type label browser os } ipAddress }
  }
}
"""


async def graphql(
    base_url: str,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    user_agent: str = DESKTOP_CHROME,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    all_headers = {"user-agent": user_agent, **(headers or {})}
    if token:
        all_headers["authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(base_url=base_url, timeout=15) as client:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=all_headers
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def login(
    base_url: str, email: str, password: str, *, user_agent: str = DESKTOP_CHROME, device_name: str | None = None
) -> tuple[str, dict[str, Any]]:
    body = await graphql(
        base_url,
        LOGIN,
        {"email": email, "password": password, "deviceName": device_name},
        user_agent=user_agent,
    )
    assert "errors" not in body, body
    payload = body["data"]["login"]
    return payload["token"], payload["session"]


def error_code(body: dict[str, Any]) -> str | None:
    errors = body.get("errors") or []
    return errors[0].get("extensions", {}).get("code") if errors else None
