"""Activity figures against a data set with known counts: API (JSON and CSV) and the command line."""
from __future__ import annotations

import csv
import io
import json

import pytest

from sync_server.cli import main
from tests.clinical.conftest import open_glass

ABDOMEN = {"procedure": "abdominoplasty", "anatomical_region": "abdomen", "view_protocol": "abdomen"}
VIEWS = ["frontal", "right_lateral", "left_lateral"]


@pytest.fixture
def data_set(file_sequence):
    """3 patients, 5 sequences, 9 photos over three months, two named surgeons and one sequence without."""
    file_sequence("IPP-1001", VIEWS[:2], seed=1, performed_on="2026-01-15", surgeon="Dr A")
    file_sequence("IPP-1001", VIEWS[:3], seed=2, performed_on="2026-02-03", surgeon="Dr B")
    file_sequence("IPP-1002", VIEWS[:1], seed=3, performed_on="2026-02-20", surgeon="Dr A", **ABDOMEN)
    file_sequence("IPP-1003", VIEWS[:2], seed=4, performed_on="2026-03-01")
    file_sequence("IPP-1003", VIEWS[:1], seed=5, performed_on="2026-03-02", surgeon="Dr A", **ABDOMEN)


def _rows(rows):
    return {r["key"]: (r["patients"], r["sequences"], r["photos"]) for r in rows}


def test_figures_by_month_surgeon_and_procedure(data_set, person, audit):
    admin_like = person("administrator")
    body = admin_like.get("/api/v1/stats").json()
    assert (body["patients"], body["sequences"], body["photos"]) == (3, 5, 9)
    assert body["totals"] == {"patients": 3, "sequences": 5, "photos": 9, "sequences_per_patient": 1.67,
                              "photos_per_sequence": 1.8}
    assert _rows(body["by_month"]) == {"2026-01": (1, 1, 2), "2026-02": (2, 2, 4), "2026-03": (1, 2, 3)}
    assert _rows(body["by_surgeon"]) == {"Dr A": (3, 3, 4), "Dr B": (1, 1, 3), "(not given)": (1, 1, 2)}
    assert _rows(body["by_procedure"]) == {"rhinoplasty": (2, 3, 7), "abdominoplasty": (2, 2, 2)}
    assert {r["key"]: r["label"] for r in body["by_procedure"]}["abdominoplasty"] == "Abdominoplasty"
    assert "IPP-100" not in json.dumps(body)  # no patient data
    assert audit("stats.read")[-1]["patient_id"] is None
    window = admin_like.get("/api/v1/stats?from=2026-02&to=2026-02").json()
    assert (window["patients"], window["sequences"], window["photos"]) == (2, 2, 4)


def test_csv_has_the_same_figures(data_set, person):
    response = person("surgeon").get("/api/v1/stats.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert rows[0] == {"dimension": "total", "key": "", "label": "", "patients": "3", "sequences": "5", "photos": "9"}
    by = {(r["dimension"], r["key"]): (int(r["patients"]), int(r["sequences"]), int(r["photos"])) for r in rows}
    assert by[("month", "2026-02")] == (2, 2, 4) and by[("surgeon", "Dr A")] == (3, 3, 4)
    assert by[("procedure", "rhinoplasty")] == (2, 3, 7)


def test_the_command_line_prints_json_csv_and_text(data_set, settings, monkeypatch, capsys):
    monkeypatch.setenv("CLINPHOTO_DATA_DIR", str(settings.data_dir))
    assert main(["stats", "--format", "json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert {k: figures[k] for k in ("patients", "sequences", "photos")} == {"patients": 3, "sequences": 5, "photos": 9}
    assert all(type(figures[k]) is int for k in ("patients", "sequences", "photos"))
    assert main(["stats", "--format", "csv", "--from", "2026-03"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "total,,,1,2,3"
    assert main(["stats"]) == 0
    assert capsys.readouterr().out.startswith("Patients 3, sequences 5, photos 9")


def test_who_may_read_figures_and_bad_months(file_sequence, person, audit):
    assert person("surgeon").get("/api/v1/stats").json()["patients"] == 0
    for role in ("nurse", "security_officer"):
        who = person(role)
        assert who.get("/api/v1/stats").status_code == 403
    officer = person("security_officer")
    open_glass(officer)
    assert officer.get("/api/v1/stats.csv").status_code == 403  # break-glass opens patients, not figures
    admin = person("administrator")
    for query in ("from=2026-13", "to=26-01", "from=2026-1", "month=2026-01"):
        response = admin.get(f"/api/v1/stats?{query}")
        assert response.status_code == 400 and response.json()["error"]["code"] == "clinical_query_invalid"

