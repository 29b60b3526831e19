"""A small keep-alive HTTP/1.1 client on asyncio streams: a few microseconds of client overhead per request,
so the harness's own cost stays out of the timestamps and the fallback load generator is not the limit."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Timed:
    """An answer with the CLOCK_MONOTONIC instants the request was sent and its response fully arrived."""

    status: int
    body: bytes
    sent_ns: int
    received_ns: int

    def json(self) -> Any:
        return json.loads(self.body)


class HttpConnection:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is not None and self._reader.at_eof():
            await self.close()  # the server closed the idle connection (uvicorn keeps one alive for 5 s)
        if self._reader is None or self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self._reader, self._writer

    @staticmethod
    def request_bytes(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
        lines = [
            f"POST {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    async def send_raw(self, request: bytes) -> Timed:
        for attempt in (1, 2):
            reader, writer = await self._connect()
            sent = time.monotonic_ns()
            writer.write(request)
            try:
                status, body = await read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionResetError) as exc:
                # Closed as idle just as the request went out: not processed, so send it again once.
                await self.close()
                if attempt == 2 or (isinstance(exc, asyncio.IncompleteReadError) and exc.partial):
                    raise
                continue
            return Timed(status, body, sent, time.monotonic_ns())
        raise AssertionError("unreachable")

    async def post_json(self, path: str, payload: object, headers: dict[str, str] | None = None) -> Timed:
        body = json.dumps(payload).encode()
        return await self.send_raw(self.request_bytes(self.host, self.port, path, body, headers or {}))

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()
            self._writer = None
            self._reader = None


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        return status, await reader.readexactly(int(headers["content-length"]))
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return status, b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
    return status, await reader.read()


async def get_status(host: str, port: int, path: str, timeout: float = 2) -> int | None:
    """The status of one GET, or None when nothing answers."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError):
        return None
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
        status, _ = await asyncio.wait_for(read_response(reader), timeout)
        return status
    except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
        return None
    finally:
        writer.close()
