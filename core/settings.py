"""Every setting of the service, read from the environment and `.env` (pydantic-settings)."""

from __future__ import annotations

import ipaddress
from functools import cached_property
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """One object for all configuration; see the README's configuration table."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    environment: Literal["development", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///./sessions.db"
    broadcast_url: str = "memory://"
    channel_prefix: str = Field(default="active-sessions", min_length=1)
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()

    idle_window_seconds: float = Field(default=15 * 60, gt=0)
    idle_timeout_seconds: float = Field(default=14 * 24 * 3600, gt=0)
    absolute_lifetime_seconds: float = Field(default=30 * 24 * 3600, gt=0)
    touch_interval_seconds: float = Field(default=60, ge=0)
    sweep_interval_seconds: float = Field(default=30, gt=0)
    reconcile_interval_seconds: float = Field(default=1.0, gt=0)

    subscriber_queue_size: int = Field(default=1000, ge=1)
    max_page_size: int = Field(default=100, ge=1)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)
        return value

    @cached_property
    def trusted_proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(entry, strict=False) for entry in self.trusted_proxies)

    @property
    def graphiql_enabled(self) -> bool:
        return self.environment == "development"
