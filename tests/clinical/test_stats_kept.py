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
    for table in ("stats_sequence", "stats_total", "stats_member", "stats_month", "stats_visit", "stats_first",
                  "stats_built"):
        call(services.store.execute, f"DELETE FROM {table}")
    assert call(stats.compute, services.store)["sequences"] == 0
    again = call(Services.start, settings)
    try:
        assert call(stats.compute, again.store) == kept
    finally:
        call(again.stop)


def test_figures_over_every_range_of_months_are_exact_as_sequences_arrive_in_any_order(services, call):
    """Distinct patients over a range come from small tables (``stats_first``), not from the sequences:
    checked against a count from the sequences themselves, for every range, kept and rebuilt."""
    import random
    import uuid

    from sync_server.clinical import stats

    rng = random.Random(1402)
    months = [f"2026-{m:02d}" for m in range(1, 9)]
    patients = [f"IPP-R{n:03d}" for n in range(25)]
    made: list[dict[str, object]] = []
    for _ in range(160):  # months arrive out of order: a patient's earlier month is often filed later
        form = {"performed_on": f"{rng.choice(months)}-1{rng.randrange(10)}", "surgeon": f"Dr {rng.randrange(4)}",
                "procedure": rng.choice(["rhinoplasty", "skin_tumour_excision"])}
        made.append({"id": str(uuid.uuid4()), "patient": rng.choice(patients), "form": form,
                     "photos": rng.randrange(0, 4)})

    async def file_all() -> None:
        for seq in made:
            async with services.store.write() as db:
                await stats.add_sequence(db, seq["id"], seq["patient"], seq["form"], "2026-12-01T00:00:00Z")
                for _ in range(seq["photos"]):
                    await stats.add_photo(db, seq["id"])

    call(file_all)

    def expected(a: str, b: str) -> dict[tuple[str, str], tuple[int, int, int]]:
        out: dict[tuple[str, str], list[object]] = {}
        for seq in made:
            month = seq["form"]["performed_on"][:7]
            if a <= month <= b:
                code = seq["form"]["procedure"]
                for key in (("total", ""), ("by_month", month), ("by_surgeon", seq["form"]["surgeon"]),
                            ("by_procedure", code)):
                    figures = out.setdefault(key, [0, 0, set()])
                    figures[0] += 1
                    figures[1] += seq["photos"]
                    figures[2].add(seq["patient"])
        return {k: (f[0], f[1], len(f[2])) for k, f in out.items()}

    def shown(figures: dict[str, object]) -> dict[tuple[str, str], tuple[int, int, int]]:
        out = {("total", ""): (figures["sequences"], figures["photos"], figures["patients"])}
        for dim in stats.DIMENSIONS:
            for row in figures[dim]:
                out[(dim, row["key"])] = (row["sequences"], row["photos"], row["patients"])
        return out

    def check_every_range() -> int:
        checked = 0
        for i, a in enumerate(months):
            for b in months[i:]:
                assert shown(call(stats.compute, services.store, a, b)) == expected(a, b), (a, b)
                checked += 1
        return checked

    assert check_every_range() == 36
