"""Repeated identical requests as one audit entry with a count (tus HEADs: hundreds a second are possible).

The first request of a kind (one device asking one upload's offset) is recorded at once, so that the
log shows who asked about what, from where, when it starts. The repeats that follow within the window
are tallied in memory and recorded as one entry carrying ``count``, ``first_at`` and ``last_at`` when
the window ends (``flush``, run by the audit runtime every few seconds) or the server stops: a device
hammering the server still shows, with the figure, without writing hundreds of entries a second.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Hashable

from ..db import Db
from .log import AuditEvent, record
from ..clock import now_iso



@dataclasses.dataclass
class _Tally:
    opened: float
    event: AuditEvent  # the latest repeat, its detail replaced by the tally's when written
    count: int = 0
    first_at: str | None = None
    last_at: str | None = None


class RepeatTally:
    def __init__(self, store: Db, window_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.window = window_seconds
        self.clock = clock
        self._open: dict[Hashable, _Tally] = {}

    async def note(self, key: Hashable, event: AuditEvent) -> None:
        """Record ``event`` if it is the first of ``key`` in the window, else count it."""
        tally = self._open.get(key)
        if tally is None:
            self._open[key] = _Tally(opened=self.clock(), event=event)
            await record(self.store, dataclasses.replace(event, detail={**event.detail, "count": 1}))
            return
        now = now_iso("milliseconds")
        tally.count += 1
        tally.first_at = tally.first_at or now
        tally.last_at = now
        tally.event = event

    async def flush(self, everything: bool = False) -> int:
        """Write the tallies whose window ended (all of them when stopping); the number written."""
        now = self.clock()
        due = [k for k, t in self._open.items() if everything or now - t.opened >= self.window]
        written = 0
        for key in due:
            tally = self._open.pop(key)
            if tally.count:
                detail: dict[str, Any] = {**tally.event.detail, "count": tally.count, "repeated": True,
                                          "first_at": tally.first_at, "last_at": tally.last_at}
                await record(self.store, dataclasses.replace(tally.event, detail=detail))
                written += 1
        return written
