"""The console's browser hardening, in Chromium against a real server: it refuses to render in another site's
frame, every answer carries the hardening headers, and a spoofing device name is shown clean (the raw
User-Agent on demand, its invisible characters written out)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.console.test_console_e2e import (  # noqa: F401 (fixtures)
    PASSWORD,
    browser,
    create_user,
    database_env,
    new_context,
    open_console,
    server,
    sign_in,
)
from tests.support.graphql_http import DESKTOP_CHROME, LOGIN
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.slow


@pytest.fixture
def other_site() -> Iterator[Callable[[str, str], str]]:
    """Another site (its own origin: http://localhost:PORT), serving the pages a test gives it."""
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, "").encode()
            self.send_response(200 if body else 404)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()

    def serve(path: str, html: str) -> str:
        pages[path] = html
        return f"http://localhost:{httpd.server_address[1]}{path}"

    try:
        yield serve
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_the_console_refuses_to_render_in_a_frame(
    browser: Browser,  # noqa: F811
    create_user: Callable[..., None],  # noqa: F811
    server: Callable[[], LiveServer],  # noqa: F811
    other_site: Callable[[str, str], str],
) -> None:
    create_user("ana@acme.test")
    base_url = server().base_url
    # The control: a page of another origin without frame-ancestors, framed the same way, does render.
    control = other_site("/friendly", "<p id='hello'>framed fine</p>").replace("localhost", "127.0.0.1")
    attack = other_site(
        "/attack", f'<iframe id="victim" src="{base_url}/"></iframe><iframe id="control" src="{control}"></iframe>'
    )
    context = new_context(browser, DESKTOP_CHROME)
    page = context.new_page()
    page.goto(attack)
    expect(page.frame_locator("#control").locator("#hello")).to_have_text("framed fine")
    # Chromium loads the answer, reads frame-ancestors and puts its error page in the frame instead.
    handle = page.locator("#victim").element_handle()
    assert handle is not None
    victim = handle.content_frame()
    assert victim is not None
    victim.wait_for_load_state("load")
    assert victim.url.startswith("chrome-error:"), victim.url
    expect(page.frame_locator("#victim").get_by_role("button", name="Sign in")).to_have_count(0)
    # The same page opened directly renders.
    direct = open_console(context, base_url)
    expect(direct.get_by_role("button", name="Sign in")).to_be_visible()
    context.close()


def test_every_answer_carries_the_hardening_headers(
    create_user: Callable[..., None],  # noqa: F811
    server: Callable[[], LiveServer],  # noqa: F811
) -> None:
    create_user("ana@acme.test")
    base_url = server().base_url
    console = httpx.get(base_url + "/", timeout=10)
    graphql = httpx.post(base_url + "/graphql", json={"query": "{ __typename }"}, timeout=10)
    too_large = httpx.post(base_url + "/graphql", content=b"x" * 200_000, timeout=10)
    for response in (console, graphql, too_large):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert "strict-transport-security" not in response.headers  # development: plain HTTP must not pin
    assert "script-src 'self'" in console.headers["content-security-policy"]
    assert "no-store" not in console.headers.get("cache-control", "")
    assert graphql.headers["cache-control"] == "no-store"
    assert too_large.status_code == 413 and too_large.headers["cache-control"] == "no-store"


def test_production_answers_pin_https(
    start_server: Callable[..., LiveServer],
    database_env: dict[str, str],  # noqa: F811
) -> None:
    base_url = start_server({**database_env, "ENVIRONMENT": "production"}).base_url
    response = httpx.post(base_url + "/graphql", json={"query": "{ __typename }"}, timeout=10)
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert response.headers["cache-control"] == "no-store"


def test_a_spoofing_device_name_is_shown_clean_and_its_raw_user_agent_escaped(
    browser: Browser,  # noqa: F811
    create_user: Callable[..., None],  # noqa: F811
    server: Callable[[], LiveServer],  # noqa: F811
) -> None:
    create_user("ana@acme.test")
    base_url = server().base_url
    # A header carries bytes: a UTF-8 right-to-left override there reads as Latin-1 "â", U+0080 (a control), "®".
    spoof_agent = DESKTOP_CHROME.encode() + "\u202e".encode()
    answer = httpx.post(
        base_url + "/graphql",
        json={
            "query": LOGIN,
            "variables": {
                "email": "ana@acme.test",
                "password": PASSWORD,
                "deviceName": "Chrome 131 on macOS\u202e\u200b\x00fdp.exe",
            },
        },
        headers={b"user-agent": spoof_agent},
        timeout=15,
    ).json()
    spoof_id = answer["data"]["login"]["session"]["id"]
    context = new_context(browser, DESKTOP_CHROME)
    page = open_console(context, base_url)
    sign_in(page, "ana@acme.test")
    spoof = page.locator(f'tr[data-session-id="{spoof_id}"]')
    label = spoof.get_by_test_id("device-label")
    expect(label).to_have_text("Chrome 131 on macOS\ufffdfdp.exe")
    assert "\u202e" not in label.inner_text() and "\u200b" not in label.inner_text()
    raw = spoof.get_by_test_id("raw-user-agent-text")
    expect(raw).to_be_hidden()
    spoof.get_by_test_id("raw-user-agent").locator("summary").click()
    expect(raw).to_be_visible()
    expect(raw).to_have_text(DESKTOP_CHROME + "\u00e2\\u{0080}\u00ae")
    expect(spoof.get_by_test_id("device-type")).not_to_contain_text("\u202e")
    context.close()
