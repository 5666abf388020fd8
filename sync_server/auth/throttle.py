"""Slow down guessing: at most N attempts per key (client address, account) in a sliding window."""
from __future__ import annotations

import collections
import time
from typing import Callable, Deque


class Throttle:
    def __init__(self, attempts: int, window_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.attempts = attempts
        self.window = window_seconds
        self.clock = clock
        self._seen: dict[str, Deque[float]] = collections.defaultdict(collections.deque)

    def allow(self, key: str) -> bool:
        now = self.clock()
        seen = self._seen[key]
        while seen and now - seen[0] > self.window:
            seen.popleft()
        if len(seen) >= self.attempts:
            return False
        seen.append(now)
        return True

    def blocked(self, key: str) -> bool:
        """Without counting an attempt: is ``key`` over its budget right now?"""
        now = self.clock()
        seen = self._seen[key]
        while seen and now - seen[0] > self.window:
            seen.popleft()
        return len(seen) >= self.attempts

    def fail(self, key: str) -> None:
        """Count one failure against ``key`` (for budgets spent only by failures, e.g. sign-ins)."""
        self._seen[key].append(self.clock())


class SigninThrottle:
    """Failed passkey ceremonies, counted per account and per client address, separately.

    Per account is the main defence: failures against one person's passkey refuse that person's sign-in
    for a minute, nobody else's. Per address is only a flood guard, set far higher: a ward or a whole
    hospital shares one NAT address, and one person's failures must not lock out the next colleague.
    """

    def __init__(self, per_account: int, per_address: int, window_seconds: float = 60,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.accounts = Throttle(per_account, window_seconds, clock)
        self.addresses = Throttle(per_address, window_seconds, clock)

    def account_blocked(self, person_id: str) -> bool:
        return self.accounts.blocked(person_id)

    def address_blocked(self, address: str) -> bool:
        return self.addresses.blocked(address)

    def fail(self, address: str, person_id: str | None = None) -> None:
        self.addresses.fail(address)
        if person_id is not None:
            self.accounts.fail(person_id)
