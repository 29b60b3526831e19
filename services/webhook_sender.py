"""One webhook attempt over HTTP: to the address already checked, with no redirects followed, a timeout, and
at most 1 kB of the answer kept."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import httpx

from services.webhook_messages import SignedMessage
from services.webhook_targets import ResolvedTarget

MAX_RESPONSE_BYTES = 1024
GONE = 410


@dataclass(frozen=True, slots=True)
class AttemptResult:
    status_code: int | None
    response_body: str | None
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.status_code == GONE


def new_client(timeout: float) -> httpx.AsyncClient:
    # No proxies from the environment (they would connect by name, past the address check).
    return httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False)


async def send(client: httpx.AsyncClient, resolved: ResolvedTarget, message: SignedMessage) -> AttemptResult:
    target = resolved.target
    address = resolved.address
    literal = f"[{address}]" if isinstance(address, ipaddress.IPv6Address) else str(address)
    default_port = 443 if target.scheme == "https" else 80
    host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    request = client.build_request(
        "POST",
        f"{target.scheme}://{literal}:{target.port}{target.path}",
        headers={**message.headers, "host": host_header, "user-agent": "active-sessions-webhooks/1"},
        content=message.body,
        extensions=extensions,
    )
    try:
        response = await client.send(request, stream=True)
    except httpx.TimeoutException:
        return AttemptResult(status_code=None, response_body=None, error="timeout")
    except httpx.ConnectError:
        return AttemptResult(status_code=None, response_body=None, error="connection refused or failed")
    except httpx.HTTPError as exc:
        return AttemptResult(status_code=None, response_body=None, error=type(exc).__name__[:200])
    try:
        kept = bytearray()
        try:
            async for chunk in response.aiter_raw():
                kept += chunk[: MAX_RESPONSE_BYTES - len(kept)]
                if len(kept) >= MAX_RESPONSE_BYTES:
                    break
        except httpx.HTTPError:
            pass  # the status is what counts; the body is only kept for the operator
    finally:
        await response.aclose()
    return AttemptResult(
        status_code=response.status_code, response_body=kept.decode("utf-8", errors="replace"), error=None
    )
