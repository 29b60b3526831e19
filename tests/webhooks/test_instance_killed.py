"""An instance SIGKILLed mid-delivery loses nothing: its lease expires and another instance (a real uvicorn
process on the same database) delivers the rest, in order. Endpoints are added with the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import cli
from tests.support.graphql_http import login
from tests.support.live_server import PROJECT_ROOT, LiveServer
from tests.webhooks.support import Receiver, eventually

LOGINS = 5


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    opened = Receiver(tmp_path)
    yield opened
    opened.stop()


def run_cli(database_url: str, *arguments: str, lenient: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    if lenient:  # the receiver is plain http on loopback
        env |= {"WEBHOOK_ALLOW_HTTP": "true", "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true"}
    return subprocess.run(
        [sys.executable, "server.py", *arguments],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


@pytest.mark.slow
async def test_a_killed_instance_loses_no_event(
    database_url: str, start_server: Callable[..., LiveServer], receiver: Receiver
) -> None:
    cli.create_user(database_url, "admin@acme.test", admin=True)
    refused = run_cli(database_url, "add-webhook", "--account", "acme", "https://169.254.169.254/x", lenient=False)
    assert refused.returncode == 1 and "error: UNSAFE_WEBHOOK_URL" in refused.stderr and refused.stdout == ""
    added = run_cli(database_url, "add-webhook", "--account", "acme", receiver.url("/hook"))
    assert added.returncode == 0, added.stderr
    lines = added.stdout.splitlines()
    assert lines[0].startswith("id: ") and lines[1].startswith("secret: whsec_")
    endpoint_id, secret = lines[0].removeprefix("id: "), lines[1].removeprefix("secret: ")
    assert secret not in run_cli(database_url, "list-webhooks").stdout
    receiver.start({"/hook": secret})
    receiver.set_mode(status=200, delay=1.5)  # each answer takes 1.5 s: a kill lands mid-delivery

    env = {
        "DATABASE_URL": database_url,
        "TOUCH_INTERVAL_SECONDS": "0",
        "WEBHOOK_ALLOW_HTTP": "true",
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        "WEBHOOK_LEASE_SECONDS": "1",
        "WEBHOOK_TIMEOUT_SECONDS": "3",
        "WEBHOOK_POLL_SECONDS": "0.1",
        "WEBHOOK_RETRY_BASE_SECONDS": "0.2",
    }
    first = start_server(env)
    for _ in range(LOGINS):
        await login(first.base_url, "admin@acme.test", cli.PASSWORD)
    await eventually(lambda: len(receiver.entries()) >= 1, 30, "the first delivery")
    first.kill()  # the second delivery is under way
    receiver.set_mode(status=200, delay=0)
    start_server(env)

    await eventually(lambda: len({e["event_id"] for e in receiver.delivered("/hook")}) >= LOGINS, 60, "every event")
    delivered = [entry["event_id"] for entry in receiver.delivered("/hook")]
    first_seen = list(dict.fromkeys(delivered))
    assert first_seen == sorted(first_seen) and len(first_seen) == LOGINS  # in order, none lost
    assert len(delivered) - LOGINS <= 1  # at most the one killed mid-delivery came twice
    assert all(entry["verified"] for entry in receiver.entries())
    listed = run_cli(database_url, "list-webhooks").stdout
    assert endpoint_id in listed and "enabled" in listed
    assert run_cli(database_url, "remove-webhook", endpoint_id).returncode == 0
    assert endpoint_id not in run_cli(database_url, "list-webhooks").stdout
