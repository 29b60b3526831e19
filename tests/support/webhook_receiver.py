"""A webhook receiver in its own process: verifies every request with the `standardwebhooks` library and
appends what it saw to a JSON-lines file. Each path has its own secret (`--secret /path=whsec_...`).

Its answer is set at start (`--status`) and changed with `POST /_mode?status=200&delay=0`; `delay` holds each
answer that many seconds (an instance can then be killed mid-delivery)."""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


class State:
    def __init__(self, secrets: dict[str, str], status: int, log: Path) -> None:
        self.secrets = secrets
        self.status = status
        self.delay = 0.0
        self.log = log
        self.lock = threading.Lock()

    def record(self, entry: dict[str, Any]) -> None:
        with self.lock, self.log.open("a") as out:
            out.write(json.dumps(entry) + "\n")


def handler(state: State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            if parts.path == "/_mode":
                query = parse_qs(parts.query)
                state.status = int(query.get("status", [state.status])[0])
                state.delay = float(query.get("delay", [state.delay])[0])
                self._answer(200, b"ok")
                return
            status, delay = state.status, state.delay
            secret = state.secrets.get(parts.path)
            headers = {key.lower(): value for key, value in self.headers.items()}
            try:
                payload = Webhook(secret).verify(body, headers) if secret else None
                verified = payload is not None
            except WebhookVerificationError:
                payload, verified = None, False
            if not verified:
                status = 400
            if delay:
                time.sleep(delay)
            state.record(
                {
                    "path": parts.path,
                    "webhook_id": headers.get("webhook-id"),
                    "verified": verified,
                    "status": status,
                    "event_id": payload["data"]["event_id"] if payload else None,
                    "type": payload["type"] if payload else None,
                    "body": payload,
                    "received_at": time.time(),
                }
            )
            self._answer(status, b'{"ok":true}' if status == 200 else b"try later")

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--status", type=int, default=200)
    parser.add_argument("--secret", action="append", default=[])
    args = parser.parse_args()
    secrets = dict(item.split("=", 1) for item in args.secret)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler(State(secrets, args.status, args.log)))
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
