"""Every setting of the service, read from the environment and `.env` (pydantic-settings)."""

from __future__ import annotations

import ipaddress
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """One object for all configuration; see the README's configuration table."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    environment: Literal["development", "production"] = "development"
    debug: bool = False
    database_url: str = "sqlite+aiosqlite:///./sessions.db"
    broadcast_url: str = "memory://"
    channel_prefix: str = Field(default="active-sessions", min_length=1)
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = ()

    idle_window_seconds: float = Field(default=15 * 60, gt=0)
    idle_timeout_seconds: float = Field(default=14 * 24 * 3600, gt=0)
    absolute_lifetime_seconds: float = Field(default=30 * 24 * 3600, gt=0)
    touch_interval_seconds: float = Field(default=60, ge=0)
    sweep_interval_seconds: float = Field(default=30, gt=0)
    sweep_batch_size: int = Field(default=200, ge=1)
    reconcile_interval_seconds: float = Field(default=1.0, gt=0)

    retention_days: float = Field(default=30, gt=0)
    prune_interval_seconds: float = Field(default=3600, gt=0)
    prune_batch_size: int = Field(default=1000, ge=1)

    log_format: Literal["json", "text"] | None = None
    metrics_enabled: bool | None = None
    metrics_token: SecretStr | None = None
    drain_seconds: int = Field(default=10, ge=1)

    subscriber_queue_size: int = Field(default=1000, ge=1)
    max_page_size: int = Field(default=100, ge=1)

    # Abuse limits (see SECURITY.md).
    max_request_bytes: int = Field(default=64 * 1024, ge=1024)
    max_query_tokens: int = Field(default=2000, ge=100)
    max_query_depth: int = Field(default=10, ge=2)
    max_query_aliases: int = Field(default=10, ge=0)
    max_query_directives: int = Field(default=5, ge=0)
    max_subscriptions_per_connection: int = Field(default=10, ge=1)
    max_sockets_per_session: int = Field(default=5, ge=1)
    login_attempts_per_address: int = Field(default=30, ge=1)
    login_attempts_per_email: int = Field(default=10, ge=1)  # per (email, client address)
    login_attempts_per_email_all_addresses: int = Field(default=100, ge=1)
    login_attempt_window_seconds: float = Field(default=300, gt=0)
    introspection_requests_per_client: int = Field(default=1000, ge=1)  # per second, per instance

    # Token introspection and the ended-sessions feed (README: "Enforcing a logout in the rest of your system").
    public_url: str | None = None

    # Webhooks (see the README's Webhooks section and SECURITY.md).
    webhook_secret_key: SecretStr | None = None
    webhook_allow_http: bool = False
    webhook_allow_private_targets: bool = False
    webhook_retry_base_seconds: float = Field(default=5, gt=0)
    webhook_retry_max_seconds: float = Field(default=3600, gt=0)
    webhook_disable_after_seconds: float = Field(default=24 * 3600, gt=0)
    webhook_timeout_seconds: float = Field(default=10, gt=0)
    webhook_poll_seconds: float = Field(default=0.25, gt=0)
    webhook_lease_seconds: float = Field(default=60, gt=0)
    webhook_concurrency: int = Field(default=8, ge=1)
    # Account security (see SECURITY.md): 0 = no limit; GEOLOCATION: off | builtin | path to a .mmdb file.
    max_sessions_per_user: int = Field(default=0, ge=0)
    geolocation: str = "off"

    @field_validator("trusted_proxies", "allowed_origins", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _check_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            if entry != "*" and not _is_bare_origin(entry):
                raise ValueError(
                    f"ALLOWED_ORIGINS entry {entry!r} is not an origin: write scheme://host[:port], "
                    "e.g. https://console.example.com (no path)"
                )
        return value

    @field_validator("geolocation")
    @classmethod
    def _check_geolocation(cls, value: str) -> str:
        value = value.strip()
        if value.lower() in ("off", "builtin"):
            return value.lower()
        if not value.endswith(".mmdb") or not Path(value).is_file():
            raise ValueError("GEOLOCATION must be off, builtin, or the path of an existing .mmdb file")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)
        return value

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Self:
        if self.environment != "production":
            return self
        problems = []
        if "*" in self.allowed_origins:
            problems.append(
                "ALLOWED_ORIGINS contains '*', which lets any web page open websockets to the service: "
                "list the console's origins instead (e.g. ALLOWED_ORIGINS=https://console.example.com) "
                "or leave it empty for same-origin only"
            )
        if self.debug:
            problems.append(
                "DEBUG is on, which logs every SQL statement with its values (emails, client addresses, token "
                "hashes) and the headers of websocket handshakes: set DEBUG=false"
            )
        if any(network.prefixlen == 0 for network in self.trusted_proxy_networks):
            problems.append(
                "TRUSTED_PROXIES contains a catch-all network, so every client may forge its address "
                "(and dodge the per-address login limit): list only your proxies' addresses"
            )
        if self.webhook_allow_private_targets:
            problems.append(
                "WEBHOOK_ALLOW_PRIVATE_TARGETS is on, which lets webhooks reach loopback, link-local and private "
                "addresses (the metadata service, the database): set WEBHOOK_ALLOW_PRIVATE_TARGETS=false"
            )
        if problems:
            raise ValueError("unsafe settings for ENVIRONMENT=production: " + "; ".join(problems))
        return self

    @cached_property
    def trusted_proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(entry, strict=False) for entry in self.trusted_proxies)

    @property
    def effective_log_format(self) -> Literal["json", "text"]:
        """JSON lines in production, readable lines in development, unless LOG_FORMAT says otherwise."""
        return self.log_format or ("json" if self.environment == "production" else "text")

    @property
    def metrics_served(self) -> bool:
        """Served in development; in production only when METRICS_ENABLED=true or a METRICS_TOKEN is set."""
        if self.metrics_enabled is not None:
            return self.metrics_enabled
        return self.environment == "development" or self.metrics_token is not None

    @property
    def graphiql_enabled(self) -> bool:
        return self.environment == "development"


def _is_bare_origin(value: str) -> bool:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises ValueError on a malformed port)
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and parts.path in ("", "/")
        and not (parts.query or parts.fragment or parts.username)
    )
