"""The receiver process and the waiting helpers shared by the webhook tests."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from tests.support.live_server import PROJECT_ROOT, free_port

RECEIVER = PROJECT_ROOT / "tests" / "support" / "webhook_receiver.py"


class Receiver:
    """`tests/support/webhook_receiver.py` on a port chosen up front, so endpoints can name it before it runs
    (meanwhile, connections to it are refused)."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.log = directory / f"receiver-{self.port}.jsonl"
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self, secrets: dict[str, str], *, status: int = 200) -> None:
        arguments = [sys.executable, str(RECEIVER), "--port", str(self.port), "--log", str(self.log)]
        arguments += ["--status", str(status)]
        for path, secret in secrets.items():
            arguments += ["--secret", f"{path}={secret}"]
        self.process = subprocess.Popen(arguments, cwd=PROJECT_ROOT, stdout=subprocess.PIPE)
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == b"ready"

    def set_mode(self, *, status: int, delay: float = 0) -> None:
        httpx.post(self.url(f"/_mode?status={status}&delay={delay}"), timeout=5).raise_for_status()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)

    def entries(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def delivered(self, path: str) -> list[dict[str, Any]]:
        """The requests to `path` answered 200, in arrival order."""
        return [entry for entry in self.entries() if entry["path"] == path and entry["status"] == 200]


async def eventually(check: Callable[[], Awaitable[bool]] | Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        outcome = check()
        if isinstance(outcome, Awaitable):
            outcome = await outcome
        if outcome:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
