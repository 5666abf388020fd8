"""Slow down guessing: at most N attempts per key (client address) in a sliding window."""
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
