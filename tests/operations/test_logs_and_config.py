"""Structured logs with request context and no secrets; settings that stop start-up with one clear line."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from core.settings import Settings
from tests.support.cli import PASSWORD, create_user
from tests.support.graphql_http import graphql, login
from tests.support.live_server import PROJECT_ROOT, LiveServer

pytestmark = pytest.mark.slow

NAMED_LIST = "query ConsoleList { activeSessions { totalCount } }"


async def test_production_logs_are_json_lines_with_request_operation_and_session(
    tmp_path: Path, start_server: Callable[..., LiveServer]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 's.db'}"
    create_user(url, "ana@acme.test")
    server = start_server({"DATABASE_URL": url, "ENVIRONMENT": "production", "TOUCH_INTERVAL_SECONDS": "0"})
    token, session = await login(server.base_url, "ana@acme.test", PASSWORD)
    listed = await graphql(server.base_url, NAMED_LIST, token=token, headers={"x-request-id": "req-42"})
    assert "errors" not in listed
    async with httpx.AsyncClient() as client:
        echoed = await client.get(server.base_url + "/healthz", headers={"x-request-id": "bad id with spaces"})
    assert re.fullmatch(r"[0-9a-f]{32}", echoed.headers["x-request-id"])
    await graphql(server.base_url, NAMED_LIST, token="not-a-token")
    server.stop()

    lines = [line for line in server.log().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is JSON
    created = [e for e in entries if e["message"] == "session created"]
    assert created and created[0]["session_id"] == session["id"] and created[0]["operation"] == "Login"
    assert created[0]["request_id"]
    assert any(e.get("request_id") == "req-42" for e in entries)
    for secret in (token, PASSWORD):
        assert secret not in server.log()


def run_serve(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "server.py", "serve", "--port", "0"],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("IDLE_WINDOW_SECONDS", "-5"),
        ("SUBSCRIBER_QUEUE_SIZE", "many"),
        ("TRUSTED_PROXIES", "not-a-network"),
        ("ENVIRONMENT", "staging"),
        ("DRAIN_SECONDS", "0"),
    ],
)
def test_a_bad_setting_stops_start_up_with_one_line_naming_it(variable: str, value: str) -> None:
    result = run_serve({variable: value, "DATABASE_URL": "sqlite+aiosqlite:////nonexistent/never-created.db"})
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and variable in errors[0], result.stderr
    assert "Traceback" not in result.stderr


def test_every_setting_is_in_the_readme_table() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", table, flags=re.MULTILINE))
    assert documented == {name.upper() for name in Settings.model_fields}


async def test_shutdown_finishes_in_flight_work_and_exits_within_the_drain_time(
    tmp_path: Path, start_server: Callable[..., LiveServer]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 's.db'}"
    create_user(url, "ana@acme.test")
    server = start_server({"DATABASE_URL": url, "DRAIN_SECONDS": "5"})
    in_flight = asyncio.ensure_future(login(server.base_url, "ana@acme.test", PASSWORD))  # ~0.2 s of argon2
    await asyncio.sleep(0.05)
    assert server.process is not None
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    token, _ = await asyncio.wait_for(in_flight, 10)
    assert token
    # uvicorn re-raises the signal once it has shut down cleanly, so the exit status is "terminated".
    assert await asyncio.to_thread(server.process.wait, 10) in (0, -signal.SIGTERM)
    assert "Finished server process" in server.log()
    assert time.monotonic() - started < 6
