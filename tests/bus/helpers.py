"""Test helpers for the bus backends: a private redis-server process, a TCP proxy, waiting and receiving."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from broadcaster import BroadcastBackend, Event
from redis.asyncio import Redis


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_until(predicate: Callable[[], bool], *, timeout: float, message: str) -> float:
    """Poll `predicate` every 20 ms; return the seconds it took, or fail the test with `message`."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{message} (waited {timeout} s)")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def receive(backend: BroadcastBackend, *, timeout: float = 2.0) -> Event:
    event: Event = await asyncio.wait_for(backend.next_published(), timeout)
    return event


async def nothing_arrives(backend: BroadcastBackend, *, within: float = 0.3) -> bool:
    try:
        await asyncio.wait_for(backend.next_published(), within)
    except TimeoutError:
        return True
    return False


async def publish_until_received(
    publish: Callable[[str], object], backend: BroadcastBackend, *, channel: str, timeout: float
) -> tuple[Event, float]:
    """Publish numbered messages every 100 ms until the backend delivers one; return it and the time it took."""
    started = time.monotonic()
    attempt = 0
    while time.monotonic() - started < timeout:
        attempt += 1
        with contextlib.suppress(ConnectionError):
            result = publish(f'{{"attempt": {attempt}}}')
            if asyncio.iscoroutine(result):
                await result
        try:
            event = await asyncio.wait_for(backend.next_published(), 0.1)
        except TimeoutError:
            continue
        assert event.channel == channel
        return event, time.monotonic() - started
    raise AssertionError(f"nothing delivered on {channel} within {timeout} s of publishing")


class RedisServer:
    """A throwaway `redis-server` on a fixed port that a test may stop and start again."""

    def __init__(self, port: int, directory: Path) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self._directory = directory
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is required on PATH for the bus reconnect tests")
        options = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning"]
        self._process = subprocess.Popen(
            [binary, "--port", str(self.port), *options, "--dir", str(self._directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} exited with {self._process.returncode}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return self
            time.sleep(0.02)
        raise RuntimeError(f"redis-server on port {self.port} did not answer PING within 5 s")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def client(self) -> Redis:
        return Redis.from_url(self.url)


class TcpProxy:
    """Forwards a local port to a server; `stop()` drops every connection, like a server going away."""

    def __init__(self, port: int, target_port: int) -> None:
        self.port = port
        self._target_port = target_port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self._target_port)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers.update((client_writer, server_writer))
        pumps = [
            asyncio.create_task(self._pump(client_reader, server_writer)),
            asyncio.create_task(self._pump(server_reader, client_writer)),
        ]
        self._tasks.update(pumps)
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for writer in (client_writer, server_writer):
                writer.transport.abort()
                self._writers.discard(writer)
            for pump in pumps:
                pump.cancel()
                self._tasks.discard(pump)

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
