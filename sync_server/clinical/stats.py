"""Activity figures: patients, sequences and photos by month, surgeon and procedure (no patient data)."""
from __future__ import annotations

import csv
import io
from typing import Any

from crypto import KeyStore

from ..db import Db
from ..storage.fields import open_form
from . import catalog

DIMENSIONS = ("by_month", "by_surgeon", "by_procedure")
UNKNOWN_SURGEON = "(not given)"


def _row(key: str, label: str | None) -> dict[str, Any]:
    row: dict[str, Any] = {"key": key, "patients": set(), "sequences": 0, "photos": 0}
    if label is not None:
        row["label"] = label
    return row


async def compute(store: Db, keys: KeyStore, start: str | None = None, end: str | None = None) -> dict[str, Any]:
    """Figures over sequences whose month (date taken, else filed) is within [start, end] (YYYY-MM)."""
    photos = {r["sequence_id"]: int(r["n"]) for r in await store.fetch_all(
        "SELECT sequence_id, COUNT(*) AS n FROM photo WHERE state <> 'expected' GROUP BY sequence_id")}
    groups: dict[str, dict[str, dict[str, Any]]] = {d: {} for d in DIMENSIONS}
    patients: set[str] = set()
    sequences = photo_total = 0
    for seq in await store.fetch_all("SELECT id, patient_id, form, created_at FROM sequence"):
        form = open_form(keys, seq["id"], seq["form"])
        month = str(form.get("performed_on") or seq["created_at"])[:7]
        if (start and month < start) or (end and month > end):
            continue
        n = photos.get(seq["id"], 0)
        patients.add(seq["patient_id"])
        sequences += 1
        photo_total += n
        procedure = catalog.coded("procedure", form.get("procedure")) or {"code": "other", "label_en": "other"}
        surgeon = str(form.get("surgeon") or UNKNOWN_SURGEON)
        for dim, key, label in (("by_month", month, None), ("by_surgeon", surgeon, None),
                                ("by_procedure", procedure["code"], procedure["label_en"])):
            row = groups[dim].setdefault(key, _row(key, label))
            row["patients"].add(seq["patient_id"])
            row["sequences"] += 1
            row["photos"] += n
    out: dict[str, Any] = {
        "patients": len(patients), "sequences": sequences, "photos": photo_total,
        "totals": {"patients": len(patients), "sequences": sequences, "photos": photo_total,
                   "sequences_per_patient": round(sequences / len(patients), 2) if patients else 0.0,
                   "photos_per_sequence": round(photo_total / sequences, 2) if sequences else 0.0},
        "from": start, "to": end,
    }
    for dim in DIMENSIONS:
        rows = sorted(groups[dim].values(), key=lambda r: r["key"])
        out[dim] = [{**r, "patients": len(r["patients"])} for r in rows]
    return out


def to_csv(figures: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["dimension", "key", "label", "patients", "sequences", "photos"])
    t = figures["totals"]
    writer.writerow(["total", "", "", t["patients"], t["sequences"], t["photos"]])
    for dim in DIMENSIONS:
        for r in figures[dim]:
            writer.writerow([dim.removeprefix("by_"), r["key"], r.get("label", ""), r["patients"], r["sequences"],
                             r["photos"]])
    return out.getvalue()


def to_text(figures: dict[str, Any]) -> str:
    t = figures["totals"]
    lines = [f"Patients {t['patients']}, sequences {t['sequences']}, photos {t['photos']} "
             f"({t['sequences_per_patient']} sequences per patient, {t['photos_per_sequence']} photos per sequence)"]
    for dim, title in (("by_month", "By month"), ("by_surgeon", "By surgeon"), ("by_procedure", "By procedure")):
        lines.append(f"{title}:")
        for r in figures[dim]:
            lines.append(f"  {r.get('label', r['key']):<32} patients {r['patients']:>6}  sequences {r['sequences']:>6}"
                         f"  photos {r['photos']:>7}")
    return "\n".join(lines) + "\n"
