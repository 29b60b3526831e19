"""Node.js tools for the federation and client tests: the pinned packages in tests/node, and scripts that
report what they see as JSON lines on stdout."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.support.live_server import PROJECT_ROOT

NODE_DIR = PROJECT_ROOT / "tests" / "node"
NPM_CI = ["ci", "--ignore-scripts", "--no-audit", "--no-fund"]


def ensure_node_modules() -> Path:
    """tests/node with its packages installed: `npm ci` when node_modules is missing or older than the lock.

    Fails (never skips) when Node.js or npm is missing: these tests are part of the suite."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise RuntimeError("Node.js (20 or newer) and npm are required by the federation and client tests")
    installed = NODE_DIR / "node_modules" / ".package-lock.json"
    lock = NODE_DIR / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        result = subprocess.run([npm, *NPM_CI], cwd=NODE_DIR, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"npm ci failed in {NODE_DIR}:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return NODE_DIR


def run_node_json(script: str, payload: object, *, timeout: float = 60) -> Any:
    """Run `node <script>` with `payload` as JSON on stdin; its stdout, parsed as JSON."""
    result = subprocess.run(
        ["node", script],
        cwd=NODE_DIR,
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"node {script} failed:\n{result.stderr[-4000:]}"
    return json.loads(result.stdout)


class NodeScript:
    """A running `node <script> ...`, read one JSON message (line) at a time."""

    def __init__(self, process: asyncio.subprocess.Process, command: str) -> None:
        self.process = process
        self.command = command
        self.messages: list[dict[str, Any]] = []

    @classmethod
    async def start(cls, script: str, *args: str, env: dict[str, str] | None = None) -> NodeScript:
        process = await asyncio.create_subprocess_exec(
            "node",
            script,
            *args,
            cwd=NODE_DIR,
            env={**os.environ, **(env or {})},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(process, f"node {script} {args[0] if args else ''}")

    async def next_message(self, timeout: float = 10) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not line:
            raise AssertionError(f"{self.command} exited ({await self._stderr()}); it said: {self.messages}")
        message: dict[str, Any] = json.loads(line)
        self.messages.append(message)
        return message

    async def wait_for(self, event: str, timeout: float = 10) -> dict[str, Any]:
        """The next message of this kind (the ones before it stay in `messages`)."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    message = await self.next_message(timeout)
                    if message["event"] == event:
                        return message
        except TimeoutError:
            raise AssertionError(f"{self.command}: no {event!r} within {timeout}s; it said: {self.messages}") from None

    async def messages_within(self, seconds: float) -> list[dict[str, Any]]:
        """Everything said in the next `seconds` (to show that nothing more happens, e.g. no retry)."""
        said: list[dict[str, Any]] = []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while True:
                    said.append(await self.next_message(seconds))
        return said

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 5)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()

    async def _stderr(self) -> str:
        assert self.process.stderr is not None
        with contextlib.suppress(TimeoutError):
            return (await asyncio.wait_for(self.process.stderr.read(), 2)).decode(errors="replace")[-3000:]
        return ""
