"""Where a webhook may be sent (SSRF safety): https only unless allowed, and never to loopback, link-local,
private or otherwise non-public addresses unless allowed. Checked when an endpoint is created and again before
every attempt, on the addresses the name resolves to then; the attempt connects to the checked address itself,
so a name that changes its answer in between (DNS rebinding) cannot redirect it."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from core.errors import UnsafeWebhookUrl
from core.settings import Settings

MAX_URL_LENGTH = 2000
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    url: str
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent


@dataclass(frozen=True, slots=True)
class ResolvedTarget:
    target: WebhookTarget
    address: IPAddress


def parse_target(url: str, settings: Settings) -> WebhookTarget:
    """The URL's parts, or `UNSAFE_WEBHOOK_URL` saying what is wrong with it (nothing is resolved here)."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH or any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise UnsafeWebhookUrl(f"The webhook URL must be at most {MAX_URL_LENGTH} characters, without spaces.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeWebhookUrl("The webhook URL is malformed.") from exc
    if parts.scheme not in ("https", "http"):
        raise UnsafeWebhookUrl("The webhook URL must start with https://.")
    if parts.scheme == "http" and not settings.webhook_allow_http:
        raise UnsafeWebhookUrl("The webhook URL must use https (plain http needs WEBHOOK_ALLOW_HTTP=true).")
    if not parts.hostname:
        raise UnsafeWebhookUrl("The webhook URL has no host.")
    if parts.username or parts.password:
        raise UnsafeWebhookUrl("The webhook URL must not carry a user name or password.")
    if parts.fragment:
        raise UnsafeWebhookUrl("The webhook URL must not have a #fragment.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return WebhookTarget(
        url=url,
        scheme=parts.scheme,
        host=parts.hostname,
        port=port or (443 if parts.scheme == "https" else 80),
        path=path,
    )


def is_public_address(address: IPAddress) -> bool:
    """Globally routable unicast only: no loopback, link-local (169.254.0.0/16: cloud metadata), private,
    shared (100.64.0.0/10), multicast, reserved or unspecified address; IPv4 inside IPv6 is judged as IPv4."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return is_public_address(embedded)
    return address.is_global and not address.is_multicast


def check_address(address: IPAddress, settings: Settings) -> None:
    if settings.webhook_allow_private_targets or is_public_address(address):
        return
    raise UnsafeWebhookUrl(
        f"The webhook URL resolves to {address}, which is not a public address (loopback, link-local, private "
        "or reserved): webhooks may not reach it."
    )


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (a literal address is itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeWebhookUrl(f"The webhook host {host!r} does not resolve.") from exc
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnsafeWebhookUrl(f"The webhook host {host!r} does not resolve.")
    return addresses


async def resolve_target(url: str, settings: Settings) -> ResolvedTarget:
    """Parse, resolve and check `url`: every address it resolves to must be allowed (a name with one private
    answer among public ones is refused), and the first is the one to connect to."""
    target = parse_target(url, settings)
    addresses = await resolve(target.host, target.port)
    for address in addresses:
        check_address(address, settings)
    return ResolvedTarget(target=target, address=addresses[0])
