"""The harness side of bench/receiver.mjs: a pool of Node receiver processes holding the websockets."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import shutil
import subprocess
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
RECEIVER_SCRIPT = BENCH_DIR / "receiver.mjs"
STREAM_LIMIT = 256 * 1024 * 1024  # a collect of 10,000 subscribers x many trials is one long line
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ensure_node_modules() -> None:
    """`npm ci` in bench/ once (the receivers need the pinned `ws` from bench/package-lock.json)."""
    if (BENCH_DIR / "node_modules" / "ws" / "package.json").is_file():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is required for the websocket receivers (Node 20+): install nodejs and npm")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=BENCH_DIR, check=True)


def realtime_offset_ns() -> int:
    """CLOCK_REALTIME minus CLOCK_MONOTONIC now (best of a few reads), to put wall-clock stamps on the
    monotonic clock. Sampled at every trial, so clock slewing over a long run does not matter."""
    samples = []
    for _ in range(3):
        before = time.monotonic_ns()
        wall = time.time_ns()
        samples.append((time.monotonic_ns() - before, wall - before))
    return min(samples)[1]


def event_instant_ns(stamp: object, offset_ns: int) -> int | None:
    """The monotonic instant of an event: the raw server's stamp as is, the service's `occurredAt` converted."""
    if isinstance(stamp, int | float):
        return int(stamp)
    if isinstance(stamp, str):
        try:
            moment = datetime.fromisoformat(stamp)
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        micros = (moment - EPOCH) // timedelta(microseconds=1)
        return micros * 1000 - offset_ns
    return None


@dataclass
class Delivery:
    """One message as a receiver saw it."""

    group: str
    t_ns: int
    size: int
    stamp: str | int | None  # when the event happened: the service's occurredAt, the raw server's monotonic stamp


@dataclass
class Collected:
    by_key: dict[str, list[Delivery]] = field(default_factory=lambda: defaultdict(list))

    def merge(self, events: dict[str, list[list[Any]]]) -> None:
        for key, rows in events.items():
            self.by_key[key].extend(
                Delivery(str(group), int(t_ns), int(size), stamp) for group, t_ns, size, stamp in rows
            )


@dataclass(frozen=True)
class Close:
    group: str
    t_ns: int
    code: int


class Receiver:
    """One Node process."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()
        self.held: dict[str, int] = defaultdict(int)  # connections per group

    @classmethod
    async def start(cls) -> Receiver:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node (20+) is required for the websocket receivers")
        process = await asyncio.create_subprocess_exec(
            node,
            str(RECEIVER_SCRIPT),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=STREAM_LIMIT,
            cwd=BENCH_DIR,
        )
        return cls(process)

    @property
    def pid(self) -> int:
        return self._process.pid

    async def call(self, op: str, **arguments: Any) -> dict[str, Any]:
        async with self._lock:
            assert self._process.stdin is not None and self._process.stdout is not None
            request_id = next(self._ids)
            self._process.stdin.write((json.dumps({"id": request_id, "op": op, **arguments}) + "\n").encode())
            await self._process.stdin.drain()
            line = await self._process.stdout.readline()
            if not line:
                raise RuntimeError(f"receiver {self.pid} exited (code {self._process.returncode})")
            answer: dict[str, Any] = json.loads(line)
            if answer.get("id") != request_id or "error" in answer:
                raise RuntimeError(f"receiver {self.pid}: {answer}")
            return answer

    async def stop(self) -> None:
        if self._process.returncode is None:
            with contextlib.suppress(TimeoutError, RuntimeError, BrokenPipeError, ConnectionResetError):
                await asyncio.wait_for(self.call("exit"), 30)
            try:
                await asyncio.wait_for(self._process.wait(), 10)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()


class ReceiverPool:
    """Connections are spread round-robin over the receivers; every call goes to all of them."""

    def __init__(self, receivers: list[Receiver]) -> None:
        self.receivers = receivers

    @classmethod
    async def start(cls, count: int) -> ReceiverPool:
        ensure_node_modules()
        return cls([await Receiver.start() for _ in range(max(1, count))])

    @property
    def pids(self) -> list[int]:
        return [receiver.pid for receiver in self.receivers]

    async def stop(self) -> None:
        await asyncio.gather(*(receiver.stop() for receiver in self.receivers))

    async def open_graphql(
        self,
        url: str,
        tokens: list[str],
        *,
        group: str,
        query: str | None,
        variables: dict[str, Any] | None = None,
        concurrency: int = 32,
    ) -> tuple[int, list[str]]:
        """Open one graphql-transport-ws socket per token (and subscribe when `query` is given)."""
        shares = [tokens[i :: len(self.receivers)] for i in range(len(self.receivers))]
        answers = await asyncio.gather(
            *(
                receiver.call(
                    "open",
                    url=url,
                    kind="graphql",
                    tokens=share,
                    group=group,
                    query=query,
                    variables=variables or {},
                    concurrency=concurrency,
                    timeout_ms=60_000,
                )
                for receiver, share in zip(self.receivers, shares, strict=True)
                if share
            )
        )
        return self._opened(group, answers, [len(share) for share in shares if share])

    async def open_raw(self, url: str, count: int, *, group: str, concurrency: int = 64) -> tuple[int, list[str]]:
        shares = [len(range(i, count, len(self.receivers))) for i in range(len(self.receivers))]
        answers = await asyncio.gather(
            *(
                receiver.call("open", url=url, kind="raw", count=share, group=group, concurrency=concurrency)
                for receiver, share in zip(self.receivers, shares, strict=True)
                if share
            )
        )
        return self._opened(group, answers, [share for share in shares if share])

    def _opened(self, group: str, answers: list[dict[str, Any]], shares: list[int]) -> tuple[int, list[str]]:
        receivers = [r for r, share in zip(self.receivers, shares, strict=False) if share]
        opened, errors = 0, list[str]()
        for receiver, answer in zip(receivers, answers, strict=True):
            receiver.held[group] += int(answer["opened"])
            opened += int(answer["opened"])
            errors.extend(str(e) for e in answer["errors"])
        return opened, errors

    async def mark(self) -> None:
        await asyncio.gather(*(receiver.call("mark") for receiver in self.receivers))

    async def wait(self, expected: dict[Receiver, int], timeout: float) -> bool:
        """Wait until each receiver has seen its expected number of messages since the mark."""
        answers = await asyncio.gather(
            *(
                receiver.call("wait", count=expected.get(receiver, 0), timeout_ms=int(timeout * 1000))
                for receiver in self.receivers
            )
        )
        return all(bool(answer["complete"]) for answer in answers)

    def expected_for_groups(self, groups: set[str]) -> dict[Receiver, int]:
        """One message per connection of the given groups."""
        return {receiver: sum(n for g, n in receiver.held.items() if g in groups) for receiver in self.receivers}

    async def collect(self) -> Collected:
        collected = Collected()
        for answer in await asyncio.gather(*(receiver.call("collect") for receiver in self.receivers)):
            collected.merge(answer["events"])
        return collected

    async def closes(self) -> list[Close]:
        seen: list[Close] = []
        for answer in await asyncio.gather(*(receiver.call("closes") for receiver in self.receivers)):
            seen.extend(Close(str(group), int(t_ns), int(code)) for _conn, group, t_ns, code in answer["closes"])
        return seen

    async def wait_closes(self, counts: dict[Receiver, int], timeout: float) -> bool:
        answers = await asyncio.gather(
            *(
                receiver.call("wait_closes", count=counts.get(receiver, 0), timeout_ms=int(timeout * 1000))
                for receiver in self.receivers
            )
        )
        return all(bool(answer["complete"]) for answer in answers)

    async def close(self, group: str | None = None) -> int:
        answers = await asyncio.gather(*(receiver.call("close", group=group) for receiver in self.receivers))
        for receiver in self.receivers:
            if group is None:
                receiver.held.clear()
            else:
                receiver.held.pop(group, None)
        return sum(int(answer["closed"]) for answer in answers)
