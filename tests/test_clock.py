"""The server's one clock: UTC ISO-8601 text with a Z, each precision kept, and a fixed clock for tests."""
from datetime import datetime, timedelta, timezone

import pytest

from sync_server import clock
from sync_server.auth import devices
from sync_server.clock import FixedClock, iso, now_iso, use_clock, utc_now

MOMENT = datetime(2026, 3, 4, 5, 6, 7, 891234, tzinfo=timezone.utc)


def test_iso_writes_utc_with_z_at_each_precision():
    assert iso(MOMENT) == "2026-03-04T05:06:07Z"
    assert iso(MOMENT, "milliseconds") == "2026-03-04T05:06:07.891Z"
    assert iso(MOMENT, "microseconds") == "2026-03-04T05:06:07.891234Z"
    paris = MOMENT.astimezone(timezone(timedelta(hours=1)))
    assert iso(paris) == "2026-03-04T05:06:07Z"


def test_system_clock_is_aware_utc():
    moment = utc_now()
    assert moment.utcoffset() == timedelta(0)
    assert now_iso().endswith("Z") and len(now_iso()) == len("2026-03-04T05:06:07Z")


def test_fixed_clock_is_used_everywhere_while_installed():
    fixed = FixedClock(MOMENT)
    with use_clock(fixed):
        assert utc_now() == MOMENT
        assert now_iso("microseconds") == "2026-03-04T05:06:07.891234Z"
        fixed.advance(60)
        assert now_iso() == "2026-03-04T05:07:07Z"
        # a module that stamps rows reads the same clock
        assert devices.utc_now() == MOMENT + timedelta(seconds=60)
    assert utc_now() != MOMENT + timedelta(seconds=60)
    assert isinstance(clock._clock, clock.SystemClock)


def test_fixed_clock_refuses_a_naive_moment():
    with pytest.raises(ValueError):
        FixedClock(datetime(2026, 1, 1))
