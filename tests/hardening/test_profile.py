"""The production profile: no introspection, no GraphiQL, no field suggestions, and no unsafe settings."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from core.settings import Settings
from tests.hardening.conftest import Deployment, schema_for
from tests.support.live_server import PROJECT_ROOT, free_port

INTROSPECTION = "{ __schema { queryType { name } types { name } } }"
TYPO = "{ viewer { emial } }"


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


@pytest.mark.parametrize(
    ("values", "names"),
    [
        ({"allowed_origins": "*"}, ["ALLOWED_ORIGINS"]),
        ({"allowed_origins": "https://console.example.com,*"}, ["ALLOWED_ORIGINS"]),
        ({"debug": True}, ["DEBUG"]),
        ({"trusted_proxies": "10.0.0.0/8,0.0.0.0/0"}, ["TRUSTED_PROXIES"]),
        ({"trusted_proxies": "::/0", "debug": True}, ["DEBUG", "TRUSTED_PROXIES"]),
    ],
)
def test_production_refuses_unsafe_settings_naming_what_to_set(values: dict[str, Any], names: list[str]) -> None:
    with pytest.raises(ValidationError) as refused:
        settings(environment="production", **values)
    message = str(refused.value)
    for name in names:
        assert name in message
    settings(environment="development", **values)  # the same values are fine for development


def test_production_accepts_listed_origins_and_real_proxies() -> None:
    accepted = settings(
        environment="production", allowed_origins="https://console.example.com", trusted_proxies="10.0.0.0/8"
    )
    assert accepted.allowed_origins == ("https://console.example.com",)


@pytest.mark.parametrize("origin", ["console.example.com", "https://console.example.com/app", "ftp://x.example"])
def test_allowed_origins_must_be_bare_origins(origin: str) -> None:
    with pytest.raises(ValidationError, match="ALLOWED_ORIGINS"):
        settings(allowed_origins=origin)


async def test_production_schema_refuses_introspection_and_gives_no_suggestions() -> None:
    production = schema_for(environment="production")
    refused = await production.execute(INTROSPECTION)
    assert refused.errors and refused.data is None
    assert refused.errors[0].extensions == {"code": "GRAPHQL_VALIDATION_FAILED"}
    typo = await production.execute(TYPO)
    assert typo.errors and "Did you mean" not in typo.errors[0].message
    assert typo.errors[0].extensions == {"code": "GRAPHQL_VALIDATION_FAILED"}


async def test_development_schema_keeps_introspection_and_suggestions() -> None:
    development = schema_for(environment="development")
    allowed = await development.execute(INTROSPECTION)
    assert allowed.errors is None and allowed.data is not None
    typo = await development.execute(TYPO)
    assert typo.errors and "Did you mean 'email'?" in typo.errors[0].message


@pytest.mark.slow
async def test_production_server_has_no_graphiql_and_no_introspection(deployment: Deployment) -> None:
    server = deployment.start(ENVIRONMENT="production", ALLOWED_ORIGINS="https://console.example.com")
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        page = await client.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 404
        assert page.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        introspection = await client.post("/graphql", json={"query": INTROSPECTION})
    assert introspection.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


@pytest.mark.slow
def test_the_server_refuses_to_start_with_unsafe_production_settings(deployment: Deployment) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": deployment.database_url,
        "ENVIRONMENT": "production",
        "ALLOWED_ORIGINS": "*",
        "DEBUG": "true",
    }
    started = subprocess.run(
        [sys.executable, "server.py", "serve", "--port", str(free_port())],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert started.returncode == 2
    assert "ALLOWED_ORIGINS" in started.stderr and "DEBUG" in started.stderr
    assert "Traceback" not in started.stderr
    assert deployment.database_url not in started.stderr  # values (URLs may hold passwords) are not echoed
