"""Server processes the suite starts and measures: service instances, the raw baselines."""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from bench.httpclient import get_status

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = PROJECT_ROOT / "bench"
HOST = "127.0.0.1"


def raise_file_limit(wanted: int = 65536) -> int:
    """Raise RLIMIT_NOFILE for this process and the servers and receivers it starts (they inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
            return wanted
        except (ValueError, OSError):
            pass
    target = wanted if hard == resource.RLIM_INFINITY else max(soft, min(wanted, hard))
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def rss_kib(pid: int) -> int:
    """VmRSS of a process, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


async def settled_rss_kib(pid: int, *, wait: float, timeout: float = 8.0, tolerance: float = 0.002) -> int:
    """RSS once it stops moving: after `wait` and once the process is idle, read every 0.25 s until two
    reads agree within `tolerance`."""
    await asyncio.sleep(wait)
    await quiet(pid)
    deadline = time.monotonic() + timeout
    previous = rss_kib(pid)
    while time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        current = rss_kib(pid)
        if abs(current - previous) <= tolerance * previous:
            return current
        previous = current
    return previous


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


async def quiet(*pids: int, window: float = 0.5, busy: float = 0.1, timeout: float = 90) -> float:
    """Wait until every process uses under `busy` of a core over a `window` (done opening or closing
    thousands of sockets); returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        before = [cpu_seconds(pid) for pid in pids]
        await asyncio.sleep(window)
        if all(cpu_seconds(pid) - used < busy * window for pid, used in zip(pids, before, strict=True)):
            break
    return time.monotonic() - started


class ManagedProcess:
    def __init__(self, name: str, argv: list[str], *, env: dict[str, str], log_path: Path, port: int) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def launch(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                cwd=PROJECT_ROOT,
                env={**os.environ, **self.env, "PYTHONUNBUFFERED": "1"},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    async def wait_ready(self, path: str | None, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
            if path is None:
                try:
                    _, writer = await asyncio.open_connection(HOST, self.port)
                    writer.close()
                    return
                except OSError:
                    pass
            elif await get_status(HOST, self.port, path) == 200:
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready within {timeout}s:\n{self.log_tail()}")

    def log_tail(self, size: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-size:]
        except OSError:
            return ""

    async def stop(self, timeout: float = 30) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def service(name: str, *, database_url: str, broadcast_url: str, channel_prefix: str, log_dir: Path) -> ManagedProcess:
    """`server.py serve` as production runs it (one process, websockets-sansio, deflate off)."""
    port = free_port()
    env = {
        "ENVIRONMENT": "production",
        "DATABASE_URL": database_url,
        "BROADCAST_URL": broadcast_url,
        "CHANNEL_PREFIX": channel_prefix,
    }
    argv = [sys.executable, "server.py", "serve", "--port", str(port)]
    return ManagedProcess(name, argv, env=env, log_path=log_dir / f"{name}.log", port=port)


def raw_broadcast(name: str, *, log_dir: Path) -> ManagedProcess:
    port = free_port()
    argv = [sys.executable, str(BENCH_DIR / "raw_broadcast_server.py"), "--port", str(port)]
    return ManagedProcess(name, argv, env={}, log_path=log_dir / f"{name}.log", port=port)


def raw_starlette(name: str, *, database_url: str, log_dir: Path) -> ManagedProcess:
    port = free_port()
    argv = [sys.executable, str(BENCH_DIR / "raw_starlette_app.py"), "--port", str(port)]
    return ManagedProcess(name, argv, env={"DATABASE_URL": database_url}, log_path=log_dir / f"{name}.log", port=port)


async def start_all(processes: list[ManagedProcess], ready_paths: dict[str, str | None]) -> None:
    for process in processes:
        process.launch()
    await asyncio.gather(*(p.wait_ready(ready_paths.get(p.name)) for p in processes))
