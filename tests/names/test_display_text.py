"""Device names and User-Agents: stored as given, returned without what could disguise them."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from models import LoginSession
from schema.build import build_schema
from schema.context import Context
from server import Runtime
from services.display_text import display_text
from tests.conftest import PASSWORD, People
from tests.support.graphql_http import DESKTOP_CHROME

RLO, ZWSP, NUL = "\u202e", "\u200b", "\x00"

LOGIN = """mutation($email: String!, $password: String!, $name: String) {
  login(input: {email: $email, password: $password, deviceName: $name}) {
    token session { id device { label userAgent rawUserAgent browser os } }
  }
}"""
LIST = "{ activeSessions(first: 5) { edges { node { device { label userAgent rawUserAgent } } } } }"


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        (f"Chrome 131 on macOS{RLO}exe.fdp", "Chrome 131 on macOSexe.fdp"),
        (f"Work{ZWSP} laptop", "Work laptop"),
        (f"Work{NUL}laptop", "Worklaptop"),
        ("tab\there\nand\r\nthere", "tab here and there"),
        ("\u2066isolate\u2069 \u200d\u200c\u2060\ufeff", "isolate"),
        ("\u3164\u2800\u115f", ""),
        ("a\u0301\u0301\u0301\u0301\u0301\u0301b", "a\u0301\u0301\u0301b"),
        ("tag\U000e0041\U000e0042s", "tags"),
        ("Café on Linux", "Café on Linux"),
        ("plain", "plain"),
        ("\u00a0\u2003wide\u3000spaces\u2028", "wide spaces"),
    ],
)
def test_invisible_and_format_characters_are_not_shown(given: str, shown: str) -> None:
    assert display_text(given, 100) == shown


def test_long_text_is_cut_with_an_ellipsis() -> None:
    assert display_text("n" * 500, 100) == "n" * 99 + "…"
    assert len(display_text("é" * 500, 100)) == 100
    assert display_text("n" * 100, 100) == "n" * 100


def context(runtime: Runtime, user_agent: str, token: str | None = None) -> Context:
    return Context(
        services=runtime.services,
        client_ip="198.51.100.7",
        user_agent=user_agent,
        authorization=f"Bearer {token}" if token else None,
        is_websocket=False,
    )


async def run(runtime: Runtime, query: str, user_agent: str, token: str | None = None, **variables: Any) -> Any:
    result = await build_schema(runtime.settings).execute(
        query, variable_values=variables, context_value=context(runtime, user_agent, token)
    )
    assert result.errors is None, result.errors
    return result.data


async def test_spoofing_names_are_stored_as_given_and_returned_clean(runtime: Runtime, people: People) -> None:
    await people.user("ana@acme.test")
    user_agent = f"{DESKTOP_CHROME}{RLO}{ZWSP}{NUL}"
    name = f"Chrome 131 on macOS{RLO}{ZWSP}gnp.exe{NUL}"
    data = await run(runtime, LOGIN, user_agent, email="ana@acme.test", password=PASSWORD, name=name)
    device = data["login"]["session"]["device"]
    # NUL cannot be stored (PostgreSQL refuses it): it is kept as U+FFFD, which shows that something was there.
    assert device["label"] == "Chrome 131 on macOSgnp.exe\ufffd"
    assert device["userAgent"] == f"{DESKTOP_CHROME}\ufffd"
    assert device["rawUserAgent"] == f"{DESKTOP_CHROME}{RLO}{ZWSP}\ufffd"
    async with runtime.database.session() as db:
        row = (await db.execute(select(LoginSession))).scalar_one()
    assert row.device_label == f"Chrome 131 on macOS{RLO}{ZWSP}gnp.exe\ufffd"
    listed = await run(runtime, LIST, DESKTOP_CHROME, data["login"]["token"])
    assert listed["activeSessions"]["edges"][0]["node"]["device"].items() <= device.items()


async def test_a_name_with_nothing_visible_falls_back_to_the_derived_label(runtime: Runtime, people: People) -> None:
    await people.user("ana@acme.test")
    data = await run(
        runtime, LOGIN, DESKTOP_CHROME, email="ana@acme.test", password=PASSWORD, name=f"{ZWSP}{RLO}{NUL}\u3164"
    )
    assert data["login"]["session"]["device"]["label"] == "Chrome 131 on macOS"


async def test_a_long_name_is_returned_bounded(runtime: Runtime, people: People) -> None:
    await people.user("ana@acme.test")
    data = await run(runtime, LOGIN, "x" * 5000, email="ana@acme.test", password=PASSWORD, name="n" * 500)
    device = data["login"]["session"]["device"]
    assert device["label"] == "n" * 99 + "…"
    assert len(device["userAgent"]) == 500 and len(device["rawUserAgent"]) == 1000
