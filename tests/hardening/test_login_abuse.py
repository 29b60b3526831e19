"""Login abuse: password guessing is throttled per client address, per email and address, and per email across
addresses, with one answer shape."""

from __future__ import annotations

import asyncio

import pytest

from core.errors import RateLimited, Unauthenticated
from core.settings import Settings
from server import Runtime
from services.access import INVALID_CREDENTIALS
from services.accounts import create_user
from services.limit_store import MemoryLimitStore
from services.rate_limit import TOO_MANY_ATTEMPTS, LoginThrottle
from tests.conftest import PASSWORD
from tests.hardening.conftest import MEMBER_A, MEMBER_B, Deployment, log_in


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_window_slides() -> None:
    clock = Clock()
    store = MemoryLimitStore(clock=clock)
    assert await store.acquire("k", "a", limit=2, ttl=60)
    clock.now += 30
    assert await store.acquire("k", "b", limit=2, ttl=60)
    assert not await store.acquire("k", "c", limit=2, ttl=60)
    clock.now += 31  # the first slot has left the window
    assert await store.acquire("k", "d", limit=2, ttl=60)
    assert not await store.acquire("k", "e", limit=2, ttl=60)


async def test_given_back_slots_are_free_again() -> None:
    store = MemoryLimitStore(clock=Clock())
    assert await store.acquire("k", "a", limit=1, ttl=60)
    assert not await store.acquire("k", "b", limit=1, ttl=60)
    await store.release("k", "a")
    assert await store.acquire("k", "b", limit=1, ttl=60)


async def test_memory_is_bounded_by_the_number_of_keys() -> None:
    clock = Clock()
    store = MemoryLimitStore(max_keys=100, clock=clock)
    for n in range(10_000):  # an attacker spraying random emails
        await store.acquire(f"victim-{n}@example.com", "m", limit=3, ttl=60)
    assert len(store) <= 100
    clock.now += 61
    await store.acquire("fresh", "m", limit=3, ttl=60)
    assert len(store) == 1  # expired keys go first


def throttle_with(store: MemoryLimitStore, *, per_address: int, per_pair: int, per_email: int) -> LoginThrottle:
    return LoginThrottle(store, per_address=per_address, per_email_and_address=per_pair, per_email=per_email, window=60)


async def test_only_failures_count_and_refusals_take_no_slot() -> None:
    store = MemoryLimitStore(clock=Clock())
    throttle = throttle_with(store, per_address=2, per_pair=5, per_email=50)
    for _ in range(10):
        await (await throttle.begin(address="198.51.100.1", email="ana@acme.test")).succeeded()
    assert len(store) == 0
    await throttle.begin(address="198.51.100.1", email="Ana@Acme.test ")
    await throttle.begin(address="198.51.100.1", email="bo@acme.test")
    held = len(store)
    with pytest.raises(RateLimited):
        await throttle.begin(address="198.51.100.1", email="cy@acme.test")
    assert len(store) == held  # the refused attempt left nothing behind
    await throttle.begin(address="198.51.100.2", email="ana@acme.test")  # another address may still try


async def test_the_email_limit_is_per_address_and_ignores_case() -> None:
    throttle = throttle_with(MemoryLimitStore(), per_address=100, per_pair=3, per_email=50)
    for _ in range(3):
        await throttle.begin(address="198.51.100.1", email="ana@acme.test")
    with pytest.raises(RateLimited, match=TOO_MANY_ATTEMPTS):
        await throttle.begin(address="198.51.100.1", email=" ANA@acme.test")
    await throttle.begin(address="203.0.113.77", email="ana@acme.test")  # the owner, elsewhere, is not locked out


async def test_the_all_addresses_limit_backs_off_longer_and_longer() -> None:
    clock = Clock()
    throttle = throttle_with(MemoryLimitStore(clock=clock), per_address=100, per_pair=100, per_email=4)
    address = iter(f"198.51.100.{n}" for n in range(1000))

    async def failures_until_refused() -> int:
        count = 0
        while True:
            try:
                await throttle.begin(address=next(address), email="ana@acme.test")
            except RateLimited:
                return count
            count += 1

    assert await failures_until_refused() == 4  # the first step: 4 per window
    clock.now += 61
    assert await failures_until_refused() == 4  # the second: 8 in 4 windows
    clock.now += 61
    assert await failures_until_refused() == 0  # still within 4 windows: held back longer
    clock.now += 4 * 60
    assert await failures_until_refused() == 4  # the third: 16 in 16 windows
    clock.now += 4 * 60 + 1
    assert await failures_until_refused() == 4
    clock.now += 61
    assert await failures_until_refused() == 0


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
        await access.login(email="ana@acme.test", password=PASSWORD, device_name=None, user_agent=None, ip_address="a")
    # The owner, from another address, is not locked out by the guesser.
    await access.login(email="ana@acme.test", password=PASSWORD, device_name=None, user_agent=None, ip_address="b")


async def test_concurrent_guesses_cannot_outrun_the_limit(local_runtime: Runtime) -> None:
    await create_user(local_runtime.database, email="ana@acme.test", password=PASSWORD, account_name="acme")
    limit = local_runtime.settings.login_attempts_per_email

    async def guess(n: int) -> str:
        try:
            await local_runtime.services.access.login(
                email="ana@acme.test", password=f"guess-{n}", device_name=None, user_agent=None, ip_address="a"
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
