"""Login abuse: password guessing is throttled per client address and per email, with one answer shape."""

from __future__ import annotations

import asyncio

import pytest

from core.errors import RateLimited, Unauthenticated
from core.settings import Settings
from server import Runtime
from services.access import INVALID_CREDENTIALS
from services.accounts import create_user
from services.rate_limit import TOO_MANY_ATTEMPTS, LoginThrottle, SlidingWindow
from tests.conftest import PASSWORD
from tests.hardening.conftest import MEMBER_A, MEMBER_B, Deployment, log_in


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_window_slides() -> None:
    clock = Clock()
    window = SlidingWindow(limit=2, window=60, clock=clock)
    assert window.try_take("k") is not None
    clock.now += 30
    assert window.try_take("k") is not None
    assert window.try_take("k") is None
    clock.now += 31  # the first slot has left the window
    assert window.try_take("k") is not None
    assert window.try_take("k") is None


def test_given_back_slots_are_free_again() -> None:
    window = SlidingWindow(limit=1, window=60, clock=Clock())
    stamp = window.try_take("k")
    assert stamp is not None and window.try_take("k") is None
    window.give_back("k", stamp)
    assert window.try_take("k") is not None


def test_memory_is_bounded_by_the_number_of_keys() -> None:
    clock = Clock()
    window = SlidingWindow(limit=3, window=60, max_keys=100, clock=clock)
    for n in range(10_000):  # an attacker spraying random emails
        window.try_take(f"victim-{n}@example.com")
    assert len(window) <= 100
    clock.now += 61
    window.try_take("fresh")
    assert len(window) == 1  # expired keys go first


def test_only_failures_count_and_refusals_take_no_slot() -> None:
    clock = Clock()
    throttle = LoginThrottle(
        SlidingWindow(limit=2, window=60, clock=clock), SlidingWindow(limit=5, window=60, clock=clock)
    )
    for _ in range(10):
        throttle.begin(address="198.51.100.1", email="ana@acme.test").succeeded()
    throttle.begin(address="198.51.100.1", email="Ana@Acme.test ")
    throttle.begin(address="198.51.100.1", email="bo@acme.test")
    with pytest.raises(RateLimited):
        throttle.begin(address="198.51.100.1", email="cy@acme.test")
    throttle.begin(address="198.51.100.2", email="ana@acme.test")  # another address may still try
    assert len(throttle.by_email) == 2  # the refused attempt left nothing behind


def test_the_email_limit_holds_across_addresses_and_ignores_case() -> None:
    throttle = LoginThrottle(SlidingWindow(limit=100, window=60), SlidingWindow(limit=3, window=60))
    for n in range(3):
        throttle.begin(address=f"198.51.100.{n}", email="ana@acme.test")
    with pytest.raises(RateLimited, match=TOO_MANY_ATTEMPTS):
        throttle.begin(address="203.0.113.77", email=" ANA@acme.test")


async def test_the_service_refuses_before_checking_the_password(local_runtime: Runtime) -> None:
    settings: Settings = local_runtime.settings
    await create_user(local_runtime.database, email="ana@acme.test", password=PASSWORD, account_name="acme")
    access = local_runtime.services.access
    assert settings.login_attempts_per_email == 10
    for _ in range(settings.login_attempts_per_email):
        with pytest.raises(Unauthenticated, match=INVALID_CREDENTIALS):
            await access.login(
                email="ana@acme.test", password="wrong", device_name=None, user_agent=None, ip_address="a"
            )
    with pytest.raises(RateLimited):  # even the right password: the guesser must not learn it now
        await access.login(email="ana@acme.test", password=PASSWORD, device_name=None, user_agent=None, ip_address="b")


async def test_concurrent_guesses_cannot_outrun_the_limit(local_runtime: Runtime) -> None:
    await create_user(local_runtime.database, email="ana@acme.test", password=PASSWORD, account_name="acme")
    limit = local_runtime.settings.login_attempts_per_email

    async def guess(n: int) -> str:
        try:
            await local_runtime.services.access.login(
                email="ana@acme.test", password=f"guess-{n}", device_name=None, user_agent=None, ip_address=f"a{n}"
            )
        except (Unauthenticated, RateLimited) as refused:
            return refused.code.value
        return "LOGGED_IN"

    codes = await asyncio.gather(*(guess(n) for n in range(limit + 3)))
    assert sorted(codes) == ["RATE_LIMITED"] * 3 + ["UNAUTHENTICATED"] * limit


@pytest.mark.slow
async def test_refusals_have_one_shape_whether_or_not_the_email_exists(deployment: Deployment) -> None:
    server = deployment.start(LOGIN_ATTEMPTS_PER_EMAIL="2", LOGIN_ATTEMPTS_PER_ADDRESS="100")
    answers = {}
    for email in (MEMBER_A[0], "nobody@acme.test"):
        for _ in range(2):
            wrong = await log_in(server.base_url, email, "wrong password")
            assert wrong["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        answers[email] = await log_in(server.base_url, email, "wrong password")
    known, unknown = answers[MEMBER_A[0]], answers["nobody@acme.test"]
    assert known == unknown  # same code, message, path and location: nothing tells the two apart
    assert known["data"] is None
    assert known["errors"][0]["extensions"] == {"code": "RATE_LIMITED"}
    assert known["errors"][0]["message"] == TOO_MANY_ATTEMPTS
    assert set(known["errors"][0]) == set(wrong["errors"][0])  # the shape of any other login refusal
    ok = await log_in(server.base_url, MEMBER_B[0])  # another user is not affected
    assert "errors" not in ok


@pytest.mark.slow
async def test_a_forged_forwarded_for_does_not_dodge_the_address_limit(deployment: Deployment) -> None:
    server = deployment.start(LOGIN_ATTEMPTS_PER_ADDRESS="3", LOGIN_ATTEMPTS_PER_EMAIL="100")
    codes = []
    for n in range(4):
        answer = await log_in(server.base_url, f"guess{n}@acme.test", "wrong", **{"x-forwarded-for": f"6.6.6.{n}"})
        codes.append(answer["errors"][0]["extensions"]["code"])
    assert codes == ["UNAUTHENTICATED"] * 3 + ["RATE_LIMITED"]
    # Until the window slides, the address gets no answer about any password, the right one included.
    assert (await log_in(server.base_url, MEMBER_A[0]))["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
