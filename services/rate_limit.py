"""Login throttling: sliding windows per client address and per email, kept in this process.

A slot is taken before the password is checked and given back when the login succeeds, so only failed (or
still running) attempts count: a user who logs in many times is never throttled, a guesser is. Refused
attempts take no slot and check no password. The windows live in memory, per instance: a fleet of N
instances allows up to N times the limit (SECURITY.md)."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from core.errors import RateLimited
from core.settings import Settings

TOO_MANY_ATTEMPTS = "Too many login attempts; try again later."
DEFAULT_MAX_KEYS = 100_000


class SlidingWindow:
    """At most `limit` slots per key within the last `window` seconds.

    Memory is bounded: at most `max_keys` keys (the least recently used goes first), each holding at most
    `limit` timestamps."""

    def __init__(
        self,
        *,
        limit: int,
        window: float,
        max_keys: int = DEFAULT_MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = limit
        self._window = window
        self._max_keys = max_keys
        self._clock = clock
        self._slots: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._slots)

    def try_take(self, key: str) -> float | None:
        """Take a slot; returns its stamp (to give it back), or None when the key is at its limit."""
        now = self._clock()
        slots = self._slots.get(key)
        if slots is None:
            self._evict(now)
            slots = self._slots[key] = deque()
        else:
            self._slots.move_to_end(key)
            _drop_older(slots, now - self._window)
        if len(slots) >= self._limit:
            return None
        slots.append(now)
        return now

    def give_back(self, key: str, stamp: float) -> None:
        slots = self._slots.get(key)
        if slots is None:
            return
        try:
            slots.remove(stamp)
        except ValueError:
            return
        if not slots:
            del self._slots[key]

    def _evict(self, now: float) -> None:
        """Drop keys whose slots have all expired (oldest use first), then the least recently used if full."""
        horizon = now - self._window
        while self._slots:
            key, slots = next(iter(self._slots.items()))
            if len(self._slots) < self._max_keys and (not slots or slots[-1] > horizon):
                return
            del self._slots[key]


def _drop_older(slots: deque[float], horizon: float) -> None:
    while slots and slots[0] <= horizon:
        slots.popleft()


@dataclass(slots=True)
class LoginAttempt:
    """A login that holds a slot in both windows until it succeeds."""

    _throttle: LoginThrottle
    _address: str
    _email: str
    _address_stamp: float
    _email_stamp: float

    def succeeded(self) -> None:
        self._throttle.by_address.give_back(self._address, self._address_stamp)
        self._throttle.by_email.give_back(self._email, self._email_stamp)


class LoginThrottle:
    def __init__(self, by_address: SlidingWindow, by_email: SlidingWindow) -> None:
        self.by_address = by_address
        self.by_email = by_email

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> LoginThrottle:
        window = settings.login_attempt_window_seconds
        return cls(
            SlidingWindow(limit=settings.login_attempts_per_address, window=window, clock=clock),
            SlidingWindow(limit=settings.login_attempts_per_email, window=window, clock=clock),
        )

    def begin(self, *, address: str, email: str) -> LoginAttempt:
        """Take a slot for this address and this email (known or not: the answer must not tell)."""
        email_key = email.strip().lower()
        address_stamp = self.by_address.try_take(address)
        if address_stamp is None:
            raise RateLimited(TOO_MANY_ATTEMPTS)
        email_stamp = self.by_email.try_take(email_key)
        if email_stamp is None:
            self.by_address.give_back(address, address_stamp)
            raise RateLimited(TOO_MANY_ATTEMPTS)
        return LoginAttempt(self, address, email_key, address_stamp, email_stamp)
