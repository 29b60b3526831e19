"""Login throttling: sliding windows counted in the shared limit store (services/limit_store.py), so every
instance of a fleet counts against the same limits.

A login takes a slot in each of its windows before the password is checked and gives them back when it
succeeds, so only failed (or still running) attempts count: a user who logs in many times is never throttled,
a guesser is. Refused attempts take no slot and check no password. The windows:

- per client address (`LOGIN_ATTEMPTS_PER_ADDRESS`);
- per (email, client address) (`LOGIN_ATTEMPTS_PER_EMAIL`): a stranger failing from one address does not lock
  the owner, who logs in from another, out;
- per email across all addresses (`LOGIN_ATTEMPTS_PER_EMAIL_ALL_ADDRESSES`), with growing back-off: twice as
  many in four windows, four times as many in sixteen, so a guesser spread over many addresses is held back
  longer and longer, while the owner is only locked out by a spread-out attack that size (SECURITY.md).

A store that cannot be reached refuses the login (`SERVICE_UNAVAILABLE`) rather than stop counting."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from core.errors import RateLimited
from core.settings import Settings
from services.limit_store import LimitStore, StoreUnavailable, slot_key

log = logging.getLogger(__name__)

TOO_MANY_ATTEMPTS = "Too many login attempts; try again later."
BACK_OFF_STEPS = ((1, 1), (2, 4), (4, 16))  # (times the limit, times the window) of the all-addresses limit


@dataclass(frozen=True, slots=True)
class Window:
    kind: str
    limit: int
    seconds: float


@dataclass(slots=True)
class LoginAttempt:
    """A login that holds a slot in each of its windows until it succeeds."""

    _store: LimitStore
    _member: str
    _keys: list[str]

    async def succeeded(self) -> None:
        """Give the slots back; a store that fails now only leaves them to expire with their windows."""
        for key in self._keys:
            try:
                await self._store.release(key, self._member)
            except StoreUnavailable:
                log.warning("login slot not given back (the limit store is unavailable); it expires instead")
                return


class LoginThrottle:
    def __init__(
        self,
        store: LimitStore,
        *,
        per_address: int,
        per_email_and_address: int,
        per_email: int,
        window: float,
    ) -> None:
        self._store = store
        self._by_address = Window("login-address", per_address, window)
        self._by_pair = Window("login-email-address", per_email_and_address, window)
        self._by_email = [
            Window(f"login-email-{n}", per_email * times, window * windows)
            for n, (times, windows) in enumerate(BACK_OFF_STEPS)
        ]

    @classmethod
    def from_settings(cls, settings: Settings, store: LimitStore) -> LoginThrottle:
        return cls(
            store,
            per_address=settings.login_attempts_per_address,
            per_email_and_address=settings.login_attempts_per_email,
            per_email=settings.login_attempts_per_email_all_addresses,
            window=settings.login_attempt_window_seconds,
        )

    async def begin(self, *, address: str, email: str) -> LoginAttempt:
        """Take a slot in every window of this address and email (known or not: the answer must not tell).
        Raises `RateLimited` when one is full (giving back what it took), `StoreUnavailable` when the store
        cannot be reached."""
        email_key = email.strip().lower()
        windows = [
            (self._by_address, address),
            (self._by_pair, f"{email_key}\n{address}"),
            *((window, email_key) for window in self._by_email),
        ]
        attempt = LoginAttempt(self._store, uuid.uuid4().hex, [])
        try:
            for window, value in windows:
                key = slot_key(window.kind, value)
                if not await self._store.acquire(key, attempt._member, limit=window.limit, ttl=window.seconds):
                    raise RateLimited(TOO_MANY_ATTEMPTS)
                attempt._keys.append(key)
        except (RateLimited, StoreUnavailable):
            await attempt.succeeded()  # a refused attempt leaves nothing behind
            raise
        return attempt
