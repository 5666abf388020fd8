"""The activity figures are kept as work is filed (issue 14, point 4; ``sync_server/clinical/stats.py``), on both
databases: the same figures as a rebuild from the forms, all time and over a range of months; surgeons,
procedures and patients stored sealed; a database an earlier version filled gets them at its next start."""
from __future__ import annotations

import pytest

from tests.clinical.test_stats import data_set  # noqa: F401  (fixture)
from tests.conftest import both_backends


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    return both_backends(request)


def test_figures_kept_as_work_is_filed_are_those_a_rebuild_from_the_forms_gives(data_set, services, call, settings):
    from sync_server.clinical import stats
    from sync_server.services import Services

    kept = call(stats.compute, services.store)
    window = call(stats.compute, services.store, "2026-02", "2026-03")
    assert (kept["sequences"], kept["photos"], window["sequences"]) == (5, 9, 4)
    whole = call(stats.compute, services.store, "2025-12", "2026-03")  # every month there is: the all-time figures
    assert {**whole, "from": None, "to": None} == kept
    assert call(stats.rebuild, services.store, services.keys) == 5
    assert call(stats.compute, services.store) == kept
    assert call(stats.compute, services.store, "2026-02", "2026-03") == window
    # surgeons and procedures are stored sealed, patients by their sealed identifier
    stored = call(services.store.fetch_all, "SELECT patient_id, surgeon, procedure FROM stats_sequence")
    assert all(r["surgeon"].startswith("sv1:") and r["procedure"].startswith("sv1:")
               and r["patient_id"].startswith("pid1:") for r in stored)
    assert not [r for r in call(services.store.fetch_all, "SELECT key FROM stats_total") if "Dr " in r["key"]]
    # a database an earlier version filled (no figures kept yet) gets them at its next start
    for table in ("stats_sequence", "stats_total", "stats_member", "stats_built"):
        call(services.store.execute, f"DELETE FROM {table}")
    assert call(stats.compute, services.store)["sequences"] == 0
    again = call(Services.start, settings)
    try:
        assert call(stats.compute, again.store) == kept
    finally:
        call(again.stop)
