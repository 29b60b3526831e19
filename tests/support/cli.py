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
