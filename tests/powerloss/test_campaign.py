"""A short power-loss campaign (the long one: ``python -m bench.powerloss``)."""
from __future__ import annotations

from pathlib import Path

from tests.powerloss.campaign import run


def test_power_cuts_during_sync_never_lose_a_receipted_photo(tmp_path: Path):
    outcome = run(tmp_path, cuts=10)
    assert outcome.cuts == 10
    assert outcome.losses == 0
    assert outcome.photos_receipted > 0
    assert outcome.interrupted >= 5, f"only {outcome.interrupted} of {outcome.cuts} cuts landed during work"
