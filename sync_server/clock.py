"""The one source of "now" for the server, and the one way to write a moment as text.

Every timestamp the server stores or sends is UTC ISO-8601 with a trailing ``Z``. Stored timestamps are
compared as text in SQL, so each column keeps the precision (``timespec``) it has always had.

Tests that need a fixed or moving time install one with ``use_clock(FixedClock(...))``.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Iterator, Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """The machine's clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FixedClock:
    """A clock that only moves when told to (for tests)."""

    def __init__(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self.moment = moment.astimezone(timezone.utc)

    def now(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


_clock: Clock = SystemClock()


def utc_now() -> datetime:
    """The current moment, aware, in UTC, from the installed clock."""
    return _clock.now()


def iso(moment: datetime, timespec: str = "seconds") -> str:
    """``moment`` as UTC ISO-8601 text ending in ``Z`` (``2026-12-03T07:50:03Z``)."""
    return moment.astimezone(timezone.utc).isoformat(timespec=timespec).replace("+00:00", "Z")


def now_iso(timespec: str = "seconds") -> str:
    """The current moment as UTC ISO-8601 text ending in ``Z``."""
    return iso(utc_now(), timespec)


@contextmanager
def use_clock(clock: Clock) -> Iterator[Clock]:
    """Install ``clock`` as the server's clock for the duration of a ``with`` block."""
    global _clock
    previous, _clock = _clock, clock
    try:
        yield clock
    finally:
        _clock = previous
