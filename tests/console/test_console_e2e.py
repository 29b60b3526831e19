"""The Active Sessions console page (static/), end to end: real `server.py serve` processes and Debian's
Chromium driven by Playwright. Chromium must be installed (`apt-get install -y chromium`): these tests
fail, never skip, without it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, WebSocketRoute, expect, sync_playwright

from tests.support.graphql_http import DESKTOP_CHROME, IPHONE_SAFARI, LOGIN, WINDOWS_FIREFOX
from tests.support.live_server import PROJECT_ROOT, LiveServer

pytestmark = pytest.mark.slow

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct horse battery"
TOKEN_KEY = "active-sessions.token"
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
DOCS = PROJECT_ROOT / "docs"

DESKTOP_LABEL = "Chrome 131 on macOS"
IPHONE_LABEL = "Mobile Safari 17 on iOS"
FIREFOX_LABEL = "Firefox 132 on Windows"
DURATION = re.compile(r"^(\d+s|\d+m \d+s|\d+h \d+m|\d+d \d+h)$")

LOGOUT = "mutation { logout { session { id status } } }"


# ------------------------------------------------------------------------------------------------
# Fixtures and helpers
# ------------------------------------------------------------------------------------------------


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is required at {CHROMIUM} (apt-get install -y chromium)", pytrace=False)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def database_env(tmp_path: Path) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 's.db'}", "BROADCAST_URL": "memory://"}


@pytest.fixture
def create_user(database_env: dict[str, str]) -> Callable[..., None]:
    """Create users with the real command line, against the test's database."""

    def create(email: str, *, admin: bool = False, account: str = "acme") -> None:
        command = [sys.executable, "server.py", "create-user", email, "--password", PASSWORD, "--account", account]
        if admin:
            command.append("--admin")
        result = subprocess.run(
            command,
            check=False,
            cwd=PROJECT_ROOT,
            env={**os.environ, **database_env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr

    return create


@pytest.fixture
def server(start_server: Callable[..., LiveServer], database_env: dict[str, str]) -> Callable[[], LiveServer]:
    """Start the server after the test has created its users (migrations run once, by the first user)."""
    return lambda: start_server(database_env)


def new_context(browser: Browser, user_agent: str, *, mobile: bool = False) -> BrowserContext:
    if mobile:
        return browser.new_context(
            user_agent=user_agent, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
        )
    return browser.new_context(user_agent=user_agent, viewport={"width": 1280, "height": 720})


PAGE_ERRORS: WeakKeyDictionary[Page, list[str]] = WeakKeyDictionary()


def open_console(context: BrowserContext, base_url: str) -> Page:
    page = context.new_page()
    errors = PAGE_ERRORS.setdefault(page, [])
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(base_url + "/")
    page.evaluate("window.__sameDocument = true")  # gone if the page ever reloads
    return page


def sign_in(page: Page, email: str, *, device_name: str | None = None) -> str:
    """Sign in through the form; returns the page's own session id."""
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    if device_name:
        page.get_by_label("Device name").fill(device_name)
    page.get_by_role("button", name="Sign in").click()
    current = page.locator('tr[data-session-id][data-current="true"]')
    expect(current).to_have_count(1)
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
    session_id = current.get_attribute("data-session-id")
    assert session_id
    return session_id


def row(page: Page, session_id: str) -> Locator:
    return page.locator(f'tr[data-session-id="{session_id}"]')


def http(
    base_url: str,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    user_agent: str = DESKTOP_CHROME,
) -> dict[str, Any]:
    headers = {"user-agent": user_agent}
    if token:
        headers["authorization"] = f"Bearer {token}"
    response = httpx.post(
        base_url + "/graphql", json={"query": query, "variables": variables or {}}, headers=headers, timeout=15
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def http_login(base_url: str, email: str, *, user_agent: str, device_name: str | None = None) -> tuple[str, str]:
    """Log in from the test (another device); returns (token, session id)."""
    body = http(
        base_url, LOGIN, {"email": email, "password": PASSWORD, "deviceName": device_name}, user_agent=user_agent
    )
    assert "errors" not in body, body
    return body["data"]["login"]["token"], body["data"]["login"]["session"]["id"]


def stored_token(page: Page) -> str | None:
    value: str | None = page.evaluate(f"sessionStorage.getItem({json.dumps(TOKEN_KEY)})")
    return value


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"
    assert PAGE_ERRORS.get(page, []) == [], PAGE_ERRORS[page]


def expect_logged_out(page: Page, *, timeout: float = 5000) -> None:
    notice = page.get_by_test_id("logged-out-notice")
    expect(notice).to_be_visible(timeout=timeout)
    expect(notice).to_contain_text("You have been logged out")
    expect(page.get_by_test_id("login-form")).to_be_visible()
    expect(page.get_by_label("Password")).to_be_visible()
    expect(page.get_by_test_id("sessions-view")).to_be_hidden()
    assert stored_token(page) is None


def save_screenshot(page: Page, name: str, *, publish: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / name
    page.mouse.move(0, 0)  # no hover highlight in the picture
    page.screenshot(path=str(target), full_page=True)
    if publish and os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(target, DOCS / name)


# ------------------------------------------------------------------------------------------------
# Tests
# ------------------------------------------------------------------------------------------------


def test_revoking_another_device_signs_it_out_live(
    browser: Browser, create_user: Callable[..., None], server: Callable[[], LiveServer]
) -> None:
    create_user("alice@acme.test")
    live = server()
    desktop = open_console(new_context(browser, DESKTOP_CHROME), live.base_url)
    phone = open_console(new_context(browser, IPHONE_SAFARI, mobile=True), live.base_url)

    # The page starts signed out, with a labelled form.
    expect(desktop.get_by_test_id("login-form")).to_be_visible()
    expect(desktop.get_by_test_id("logged-out-notice")).to_be_hidden()

    desktop_id = sign_in(desktop, "alice@acme.test")
    phone_id = sign_in(phone, "alice@acme.test")
    assert desktop_id != phone_id
    assert stored_token(desktop) and stored_token(phone)
    assert desktop.evaluate("localStorage.length") == 0
    assert desktop.context.cookies() == []

    # The desktop page shows both sessions (the phone's arrived live), with the right devices.
    table = desktop.get_by_role("table")
    expect(table.locator("caption")).to_contain_text("Your active sessions")
    expect(table.locator("thead th[scope=col]")).to_have_text(["Device", "IP Address", "Status", "Time", "Action"])
    expect(desktop.locator("tr[data-session-id]")).to_have_count(2)
    own, other = row(desktop, desktop_id), row(desktop, phone_id)
    expect(own.get_by_test_id("device-label")).to_have_text(DESKTOP_LABEL)
    expect(own.get_by_test_id("device-type")).to_have_text("Desktop")
    expect(own.get_by_test_id("this-device")).to_have_text("This device")
    expect(other.get_by_test_id("device-label")).to_have_text(IPHONE_LABEL)
    expect(other.get_by_test_id("device-type")).to_have_text("Mobile")
    expect(other.get_by_test_id("this-device")).to_have_count(0)
    expect(other.get_by_test_id("session-ip")).to_have_text("127.0.0.1")
    expect(other.get_by_test_id("session-status")).to_have_text("Active")
    expect(desktop.get_by_test_id("this-device")).to_have_count(1)
    # Newest first.
    expect(desktop.locator("tr[data-session-id]").first).to_have_attribute("data-session-id", phone_id)
    # The phone sees the same two, and marks its own row.
    expect(phone.locator("tr[data-session-id]")).to_have_count(2)
    expect(row(phone, phone_id).get_by_test_id("this-device")).to_be_visible()
    # A member has no all-users switch and no User column.
    expect(desktop.get_by_role("switch")).to_have_count(0)
    expect(desktop.get_by_test_id("viewer-role")).to_have_text("Member")

    # The Time column ticks every second, without a reload.
    clock = own.get_by_test_id("session-time")
    first_reading = clock.inner_text()
    assert DURATION.match(first_reading), first_reading
    expect(clock).not_to_have_text(first_reading, timeout=3000)
    assert DURATION.match(clock.inner_text()), clock.inner_text()

    save_screenshot(phone, "console-mobile.png")

    # Log the phone out from the desktop: the phone signs out at once, its row goes, nothing reloads.
    button = desktop.get_by_role("button", name=f"Log out {IPHONE_LABEL}", exact=True)
    expect(button).to_have_text("Log Out")
    started = time.monotonic()
    button.click()
    expect(phone.get_by_test_id("logged-out-notice")).to_be_visible(timeout=2000)
    expect(other).to_have_count(0, timeout=2000)
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, f"took {elapsed:.2f}s"
    print(f"revoked device signed out and removed in {elapsed:.2f}s")
    expect_logged_out(phone)
    save_screenshot(phone, "console-logged-out.png")
    expect(desktop.get_by_test_id("announcer")).to_contain_text(f"Logged out {IPHONE_LABEL}")
    assert_not_reloaded(desktop)
    assert_not_reloaded(phone)

    # A third device signs in (over HTTP, from the test): it appears on the desktop page live.
    _, firefox_id = http_login(live.base_url, "alice@acme.test", user_agent=WINDOWS_FIREFOX)
    expect(row(desktop, firefox_id).get_by_test_id("device-label")).to_have_text(FIREFOX_LABEL, timeout=3000)
    expect(row(desktop, firefox_id).get_by_test_id("device-type")).to_have_text("Desktop")
    # And a named one: its name is the label, the browser and system the detail.
    _, named_id = http_login(live.base_url, "alice@acme.test", user_agent=IPHONE_SAFARI, device_name="Alice's iPhone")
    expect(row(desktop, named_id).get_by_test_id("device-label")).to_have_text("Alice's iPhone", timeout=3000)
    expect(row(desktop, named_id).get_by_test_id("device-type")).to_have_text(f"Mobile · {IPHONE_LABEL}")
    expect(desktop.locator("tr[data-session-id]")).to_have_count(3)
    expect(desktop.locator("tr[data-session-id]").first).to_have_attribute("data-session-id", named_id)
    expect(desktop.get_by_test_id("this-device")).to_have_count(1)
    expect(own.get_by_test_id("this-device")).to_be_visible()
    assert_not_reloaded(desktop)

    desktop.wait_for_timeout(1500)  # let every clock show a non-zero time
    save_screenshot(desktop, "console.png", publish=True)

    # "Log out all other sessions" leaves only this device.
    desktop.get_by_role("button", name="Log out all other sessions").click()
    expect(desktop.locator("tr[data-session-id]")).to_have_count(1, timeout=2000)
    expect(own).to_be_visible()
    expect(desktop.get_by_role("button", name="Log out all other sessions")).to_be_disabled()

    # Logging out this device from its own row shows the signed-out state and forgets the token.
    desktop.get_by_role("button", name=f"Log out this device, {DESKTOP_LABEL}").click()
    expect_logged_out(desktop)
    assert_not_reloaded(desktop)


def test_administrator_sees_member_sessions_live(
    browser: Browser, create_user: Callable[..., None], server: Callable[[], LiveServer]
) -> None:
    create_user("admin@acme.test", admin=True)
    create_user("member@acme.test")
    create_user("stranger@other.test", account="other")
    live = server()
    _, early_member_id = http_login(live.base_url, "member@acme.test", user_agent=WINDOWS_FIREFOX)

    page = open_console(new_context(browser, DESKTOP_CHROME), live.base_url)
    admin_id = sign_in(page, "admin@acme.test")
    expect(page.get_by_test_id("viewer-role")).to_have_text("Administrator")

    # Own sessions by default: no User column, no member rows.
    headers = page.locator("thead th[scope=col]")
    expect(headers).to_have_text(["Device", "IP Address", "Status", "Time", "Action"])
    expect(page.locator("tr[data-session-id]")).to_have_count(1)

    # The switch reloads with every user of the account, and adds the User column.
    switch = page.get_by_role("switch", name="All users of the account")
    expect(switch).not_to_be_checked()
    switch.check()
    expect(headers).to_have_text(["User", "Device", "IP Address", "Status", "Time", "Action"])
    expect(page.get_by_role("table").locator("caption")).to_contain_text("all users of the account")
    early = row(page, early_member_id)
    expect(early.get_by_test_id("session-user")).to_have_text("member@acme.test")
    expect(early.get_by_test_id("device-label")).to_have_text(FIREFOX_LABEL)
    expect(row(page, admin_id).get_by_test_id("this-device")).to_be_visible()
    expect(page.locator("tr[data-session-id]")).to_have_count(2)
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")

    # A member signs in on a phone: the new row appears live; another account's sign-in never does.
    _, stranger_id = http_login(live.base_url, "stranger@other.test", user_agent=DESKTOP_CHROME)
    member_token, member_id = http_login(live.base_url, "member@acme.test", user_agent=IPHONE_SAFARI)
    fresh = row(page, member_id)
    expect(fresh.get_by_test_id("session-user")).to_have_text("member@acme.test", timeout=3000)
    expect(fresh.get_by_test_id("device-label")).to_have_text(IPHONE_LABEL)
    expect(fresh.get_by_test_id("device-type")).to_have_text("Mobile")
    expect(page.locator("tr[data-session-id]")).to_have_count(3)
    expect(row(page, stranger_id)).to_have_count(0)
    expect(page.get_by_test_id("announcer")).to_contain_text(f"New session: {IPHONE_LABEL} (member@acme.test)")
    save_screenshot(page, "console-admin.png")

    # The member logs out on their own: the row goes live too.
    assert "errors" not in http(live.base_url, LOGOUT, token=member_token)
    expect(fresh).to_have_count(0, timeout=2000)

    # The administrator ends the member's other session from the page.
    page.get_by_role("button", name=f"Log out {FIREFOX_LABEL} of member@acme.test", exact=True).click()
    expect(early).to_have_count(0, timeout=2000)

    # Switching back shows own sessions only, still live.
    switch.uncheck()
    expect(headers).to_have_text(["Device", "IP Address", "Status", "Time", "Action"])
    expect(page.locator("tr[data-session-id]")).to_have_count(1)
    _, admin_phone_id = http_login(live.base_url, "admin@acme.test", user_agent=IPHONE_SAFARI)
    http_login(live.base_url, "member@acme.test", user_agent=IPHONE_SAFARI)
    expect(row(page, admin_phone_id)).to_be_visible(timeout=3000)
    expect(page.locator("tr[data-session-id]")).to_have_count(2)
    assert_not_reloaded(page)


def test_resumes_after_a_dropped_connection_without_missing_events(
    browser: Browser, create_user: Callable[..., None], server: Callable[[], LiveServer]
) -> None:
    """The socket drops (close 1012); while the page is away a device signs in and another signs out.
    The page reconnects with `after: <last event id>` and the service replays both."""
    create_user("carol@acme.test")
    live = server()
    context = new_context(browser, DESKTOP_CHROME)
    sockets: list[WebSocketRoute] = []
    sent: list[dict[str, Any]] = []
    received: list[dict[str, Any]] = []
    blocked = {"on": False}

    def route(ws: WebSocketRoute) -> None:
        if blocked["on"]:
            ws.close(code=1012, reason="Server restarting: reconnect")
            return
        upstream = ws.connect_to_server()

        def to_server(message: str | bytes) -> None:
            sent.append(json.loads(message))
            upstream.send(message)

        def to_page(message: str | bytes) -> None:
            received.append(json.loads(message))
            ws.send(message)

        ws.on_message(to_server)
        upstream.on_message(to_page)
        sockets.append(ws)

    context.route_web_socket(re.compile(r"/graphql$"), route)
    page = open_console(context, live.base_url)
    sign_in(page, "carol@acme.test")
    leaving_token, leaving_id = http_login(live.base_url, "carol@acme.test", user_agent=IPHONE_SAFARI)
    expect(row(page, leaving_id)).to_be_visible(timeout=3000)
    event_ids = [m["payload"]["data"]["sessionEvents"]["id"] for m in received if m.get("type") == "next"]
    assert event_ids, received
    last_seen = event_ids[-1]

    # Drop the connection as a restarting server would, and keep new connections out for a while.
    blocked["on"] = True
    sockets[-1].close(code=1012, reason="Server restarting: reconnect")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", re.compile("reconnecting|connecting"))
    _, arriving_id = http_login(live.base_url, "carol@acme.test", user_agent=WINDOWS_FIREFOX)
    assert "errors" not in http(live.base_url, LOGOUT, token=leaving_token)
    expect(row(page, leaving_id)).to_be_visible()  # nothing can reach the page yet
    subscribes_before = sum(1 for m in sent if m.get("type") == "subscribe")
    blocked["on"] = False

    # Back online: the missed sign-in appears, the missed sign-out disappears.
    expect(row(page, arriving_id).get_by_test_id("device-label")).to_have_text(FIREFOX_LABEL, timeout=15000)
    expect(row(page, leaving_id)).to_have_count(0)
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
    expect(page.locator("tr[data-session-id]")).to_have_count(2)
    resumed = [m for m in sent if m.get("type") == "subscribe"][subscribes_before:]
    assert resumed, sent
    assert resumed[0]["payload"]["variables"] == {"allUsers": False, "after": last_seen}
    assert_not_reloaded(page)


def test_works_without_websocket_and_signs_out_on_unauthenticated(
    browser: Browser, create_user: Callable[..., None], server: Callable[[], LiveServer]
) -> None:
    """With websockets refused, the list still loads over HTTP; once the session is ended elsewhere,
    the next HTTP answer (UNAUTHENTICATED) signs the page out."""
    create_user("dave@acme.test")
    live = server()
    context = new_context(browser, DESKTOP_CHROME)
    context.route_web_socket(re.compile(r"/graphql$"), lambda ws: ws.close(code=1011, reason="Unavailable"))
    other_token, other_id = http_login(live.base_url, "dave@acme.test", user_agent=IPHONE_SAFARI)
    page = open_console(context, live.base_url)
    page.get_by_label("Email").fill("dave@acme.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Device name").fill("Kiosk")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("tr[data-session-id]")).to_have_count(2)
    expect(page.locator('tr[data-current="true"]').get_by_test_id("device-label")).to_have_text("Kiosk")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", re.compile("reconnecting|connecting"))

    # The phone ends every other session, the page's included; the page learns it on its next request.
    ended = http(live.base_url, "mutation { logoutOtherSessions { sessions { id } } }", token=other_token)
    assert "errors" not in ended, ended
    page.get_by_role("button", name=f"Log out {IPHONE_LABEL}", exact=True).click()
    expect_logged_out(page)
    assert other_id
    assert_not_reloaded(page)


def test_a_stored_token_survives_a_reload_and_a_bad_password_is_refused(
    browser: Browser, create_user: Callable[..., None], server: Callable[[], LiveServer]
) -> None:
    create_user("erin@acme.test")
    live = server()
    context = new_context(browser, DESKTOP_CHROME)
    page = open_console(context, live.base_url)

    page.get_by_label("Email").fill("erin@acme.test")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("login-error")).to_have_text("Invalid email or password.")
    assert stored_token(page) is None

    session_id = sign_in(page, "erin@acme.test")
    page.reload()
    expect(row(page, session_id).get_by_test_id("this-device")).to_be_visible()
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
    # Another tab of the same browser is not signed in: sessionStorage belongs to its tab.
    second_tab = context.new_page()
    second_tab.goto(live.base_url + "/")
    expect(second_tab.get_by_test_id("login-form")).to_be_visible()
