"""Slow down guessing: at most N attempts per key (client address, account) in a sliding window.

The attempts are counted in the database, so every server process of an install (cluster.py) shares
one budget: a guesser whose requests a proxy spreads over three processes gets no more tries than
against one. Keys are client addresses and account ids (never a patient's); rows past the window
are removed as new ones come.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from ..db import Db, Writer

KEEP_MS = 24 * 3600 * 1000  # what no window reaches is removed


class Throttle:
    def __init__(self, store: "Db", scope: str, attempts: int, window_seconds: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.scope = scope
        self.attempts = attempts
        self.window = window_seconds
        self.clock = clock  # wall clock: shared by the processes, unlike a monotonic one

    def _since(self, now_ms: int) -> int:
        return now_ms - int(self.window * 1000)

    async def allow(self, key: str) -> bool:
        """Count one attempt against ``key``, unless it is over its budget (then False)."""
        now = int(self.clock() * 1000)
        async with self.store.write() as db:  # one write at a time across processes: the count is exact
            seen = await db.fetch_val(
                "SELECT COUNT(*) FROM throttle_hit WHERE scope = :s AND key = :k AND at_ms > :since",
                {"s": self.scope, "k": key, "since": self._since(now)})
            if int(seen) >= self.attempts:
                return False
            await self._add(db, key, now)
        return True

    async def blocked(self, key: str) -> bool:
        """Without counting an attempt: is ``key`` over its budget right now?"""
        now = int(self.clock() * 1000)
        seen = await self.store.fetch_val(
            "SELECT COUNT(*) FROM throttle_hit WHERE scope = :s AND key = :k AND at_ms > :since",
            {"s": self.scope, "k": key, "since": self._since(now)})
        return int(seen) >= self.attempts

    async def fail(self, key: str) -> None:
        """Count one failure against ``key`` (for budgets spent only by failures, e.g. sign-ins)."""
        now = int(self.clock() * 1000)
        async with self.store.write() as db:
            await self._add(db, key, now)

    async def _add(self, db: "Writer", key: str, now: int) -> None:
        await db.execute("DELETE FROM throttle_hit WHERE at_ms < :old", {"old": now - KEEP_MS})
        await db.execute("INSERT INTO throttle_hit (scope, key, at_ms) VALUES (:s, :k, :t)",
                         {"s": self.scope, "k": key, "t": now})


class SigninThrottle:
    """Failed passkey ceremonies, counted per account and per client address, separately.

    Per account is the main defence: failures against one person's passkey refuse that person's sign-in
    for a minute, nobody else's. Per address is only a flood guard, set far higher: a ward or a whole
    hospital shares one NAT address, and one person's failures must not lock out the next colleague.
    """

    def __init__(self, store: "Db", per_account: int, per_address: int, window_seconds: float = 60,
                 clock: Callable[[], float] = time.time) -> None:
        self.accounts = Throttle(store, "signin.account", per_account, window_seconds, clock)
        self.addresses = Throttle(store, "signin.address", per_address, window_seconds, clock)

    async def account_blocked(self, person_id: str) -> bool:
        return await self.accounts.blocked(person_id)

    async def address_blocked(self, address: str) -> bool:
        return await self.addresses.blocked(address)

    async def fail(self, address: str, person_id: str | None = None) -> None:
        await self.addresses.fail(address)
        if person_id is not None:
            await self.accounts.fail(person_id)
