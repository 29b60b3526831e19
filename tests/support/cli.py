"""Runs the service's own command line, as an operator would."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.live_server import PROJECT_ROOT

PASSWORD = "correct horse battery"


def create_user(database_url: str, email: str, *, admin: bool = False, account: str = "acme") -> None:
    command = [sys.executable, "server.py", "create-user", email, "--password", PASSWORD, "--account", account]
    subprocess.run(
        [*command, "--admin"] if admin else command,
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
        env={**os.environ, "DATABASE_URL": database_url},
    )


def server_command(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`server.py ARGS...` on that database; the completed process (not checked)."""
    return subprocess.run(
        [sys.executable, "server.py", *args],
        cwd=PROJECT_ROOT,
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": database_url},
    )


def create_client(database_url: str, name: str, *options: str) -> tuple[str, str]:
    """`create-client NAME OPTIONS...`: the printed (client_id, client_secret)."""
    result = server_command(database_url, "create-client", name, *options)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines() if ": " in line)
    return lines["client_id"], lines["client_secret"]
