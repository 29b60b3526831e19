"""The app served by a real uvicorn server on a thread of the test process: real HTTP on a free port, without
the start-up cost of a second process (for fast tests of the HTTP surface)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from tests.support.live_server import free_port


@contextlib.contextmanager
def serve_in_thread(app: FastAPI, *, timeout: float = 30) -> Iterator[str]:
    """Serve `app` (lifespan included) until the block ends; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, proxy_headers=False))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    started = threading.Event()

    def wait_started() -> None:
        while thread.is_alive() and not server.started:
            started.wait(0.02)  # uvicorn sets a plain attribute: poll it, briefly

    wait_started()
    if not server.started:
        thread.join(timeout)
        raise RuntimeError("uvicorn did not start (see the log above)")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
