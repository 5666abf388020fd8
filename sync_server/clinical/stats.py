"""Activity figures: patients, sequences and photos by month, surgeon and procedure (no patient data).

The figures are kept as the work is filed, never recomputed from the forms on a request (opening every
form cost 12 s at a million photos): ingest adds each new sequence (``add_sequence``, in the transaction
that records it) and each photo as it is filed (``add_photo``). ``stats_sequence`` holds one row per
sequence with what it counts under; ``stats_total`` the all-time figures of each dimension and key, with
``stats_member`` the patients counted in each, so distinct patients stay exact. Surgeons and procedures
are stored sealed (``PatientFields.seal_key``, deterministic), patients by their sealed identifier.

All-time figures (and those of a range holding every month there is) are read from ``stats_total``; figures
over a narrower range of months from ``stats_month`` (sequences and photos of each key and month) and
``stats_first``: distinct patients over [a, b] without reading them, as each patient counts once, at its
first month in the range, the month whose previous one under the key (``stats_visit``) is before a. ``rebuild`` makes the tables again from the sequences and their forms: at
the first start of this version (``storage/upgrade.py``) and for data written behind the server's back.
"""
from __future__ import annotations

import csv
import io
from typing import Any, Mapping

from crypto import KeyStore

from ..clock import now_iso
from ..db import Db, Writer
from ..storage.fields import PatientFields, open_form
from . import catalog

DIMENSIONS = ("by_month", "by_surgeon", "by_procedure")
TOTAL = "total"
UNKNOWN_SURGEON = "(not given)"
OTHER_PROCEDURE = "other"
_BATCH = 2000


def facts(form: Mapping[str, Any], created_at: str) -> tuple[str, str, str]:
    """(month, surgeon, procedure code) a sequence counts under: the month it was performed (else filed)."""
    month = str(form.get("performed_on") or created_at)[:7]
    procedure = (catalog.coded("procedure", form.get("procedure")) or {"code": OTHER_PROCEDURE})["code"]
    return month, str(form.get("surgeon") or UNKNOWN_SURGEON), procedure


def _keys(month: str, surgeon: str, procedure: str) -> list[tuple[str, str]]:
    return [(TOTAL, ""), ("by_month", month), ("by_surgeon", surgeon), ("by_procedure", procedure)]


async def add_sequence(db: Writer, sequence_id: str, patient_id: str, form: Mapping[str, Any], created_at: str) -> None:
    """Count a new sequence (inside the write that records it); a sequence already counted is left alone."""
    fields = db.fields
    month, surgeon, procedure = facts(form, created_at)
    surgeon, procedure = fields.seal_key("surgeon", surgeon), fields.seal_key("procedure", procedure)
    patient = fields.pid(patient_id)
    if not await db.run(
            "INSERT INTO stats_sequence (sequence_id, patient_id, month, surgeon, procedure, photos) "
            "VALUES (:s, :p, :m, :su, :pr, 0) ON CONFLICT (sequence_id) DO NOTHING RETURNING sequence_id",
            {"s": sequence_id, "p": patient, "m": month, "su": surgeon, "pr": procedure}):
        return
    keys = _keys(month, surgeon, procedure)
    values: dict[str, Any] = {"p": patient, **{f"d{i}": d for i, (d, _) in enumerate(keys)},
                              **{f"k{i}": k for i, (_, k) in enumerate(keys)}}
    rows = ", ".join(f"(:d{i}, :k{i}, :p)" for i in range(len(keys)))
    new = {(d, k) for d, k in await db.run(  # the keys this patient is new in
        f"INSERT INTO stats_member (dim, key, patient_id) VALUES {rows} ON CONFLICT DO NOTHING RETURNING dim, key",
        values)}
    values.update({f"n{i}": 1 if key in new else 0 for i, key in enumerate(keys)})
    rows = ", ".join(f"(:d{i}, :k{i}, 1, 0, :n{i})" for i in range(len(keys)))
    await db.run(f"INSERT INTO stats_total (dim, key, sequences, photos, patients) VALUES {rows} "
                 "ON CONFLICT (dim, key) DO UPDATE SET sequences = stats_total.sequences + 1, "
                 "patients = stats_total.patients + excluded.patients", values)
    await _add_month(db, keys, patient, month)


async def _add_month(db: Writer, keys: list[tuple[str, str]], patient: str, month: str) -> None:
    """Count a new sequence of ``patient`` in ``month`` under each key: its month's figures, and the patient's
    place among its months under the key (``stats_first``: what counts distinct patients over a range)."""
    values: dict[str, Any] = {"p": patient, "m": month, **{f"d{i}": d for i, (d, _) in enumerate(keys)},
                              **{f"k{i}": k for i, (_, k) in enumerate(keys)}}
    await db.run("INSERT INTO stats_month (dim, key, month, sequences, photos) VALUES "
                 + ", ".join(f"(:d{i}, :k{i}, :m, 1, 0)" for i in range(len(keys)))
                 + " ON CONFLICT (dim, key, month) DO UPDATE SET sequences = stats_month.sequences + 1", values)
    new = await db.run("INSERT INTO stats_visit (dim, key, patient_id, month) VALUES "
                       + ", ".join(f"(:d{i}, :k{i}, :p, :m)" for i in range(len(keys)))
                       + " ON CONFLICT DO NOTHING RETURNING dim, key", values)
    for dim, key in new:  # a month new for this patient under this key
        (before, after), = await db.run(
            "SELECT MAX(CASE WHEN month < :m THEN month END), MIN(CASE WHEN month > :m THEN month END) "
            "FROM stats_visit WHERE dim = :d AND key = :k AND patient_id = :p",
            {"d": dim, "k": key, "p": patient, "m": month})
        before = before or ""
        moves = [(month, before, 1)]
        if after:  # the next month's previous one is now this month
            moves += [(after, before, -1), (after, month, 1)]
        for at, prev, change in moves:
            await db.run("INSERT INTO stats_first (dim, key, month, prev, patients) VALUES (:d, :k, :m, :v, :n) "
                         "ON CONFLICT (dim, key, month, prev) DO UPDATE SET patients = stats_first.patients + :n",
                         {"d": dim, "k": key, "m": at, "v": prev, "n": change})
        if after:
            await db.run("DELETE FROM stats_first WHERE dim = :d AND key = :k AND month = :m AND prev = :v "
                         "AND patients = 0", {"d": dim, "k": key, "m": after, "v": before})


async def add_photo(db: Writer, sequence_id: str) -> None:
    """Count a photo as it is filed (it leaves the ``expected`` state once, inside that write)."""
    counted = await db.run("UPDATE stats_sequence SET photos = photos + 1 WHERE sequence_id = :s "
                           "RETURNING month, surgeon, procedure", {"s": sequence_id})
    if not counted:
        return
    (month, surgeon, procedure), = counted
    keys = _keys(month, surgeon, procedure)
    values = {"m": month, **{f"d{i}": d for i, (d, _) in enumerate(keys)}, **{f"k{i}": k for i, (_, k) in enumerate(keys)}}
    where = " OR ".join(f"(dim = :d{i} AND key = :k{i})" for i in range(len(keys)))
    await db.run(f"UPDATE stats_total SET photos = photos + 1 WHERE {where}", values)
    await db.run(f"UPDATE stats_month SET photos = photos + 1 WHERE month = :m AND ({where})", values)


async def rebuild(store: Db, keys: KeyStore) -> int:
    """Make the figures' tables again from every sequence, its form and its filed photos; how many sequences."""
    fields = store.fields
    photos = {r["sequence_id"]: int(r["n"]) for r in await store.fetch_all(
        "SELECT sequence_id, COUNT(*) AS n FROM photo WHERE state <> 'expected' GROUP BY sequence_id")}
    rows: list[dict[str, Any]] = []
    totals: dict[tuple[str, str], list[Any]] = {}
    months: dict[tuple[str, str, str], list[int]] = {}  # (dim, key, month): [sequences, photos]
    visits: dict[tuple[str, str, str], set[str]] = {}  # (dim, key, patient): its months
    after = ""
    while True:
        page = await store.fetch_all("SELECT id, patient_id, form, created_at FROM sequence WHERE id > :a "
                                     "ORDER BY id LIMIT :n", {"a": after, "n": _BATCH})
        if not page:
            break
        after = page[-1]["id"]
        for seq in page:
            month, surgeon, procedure = facts(open_form(keys, seq["id"], seq["form"]), seq["created_at"])
            surgeon, procedure = fields.seal_key("surgeon", surgeon), fields.seal_key("procedure", procedure)
            patient, n = fields.pid(seq["patient_id"]), photos.get(seq["id"], 0)
            rows.append({"s": seq["id"], "p": patient, "m": month, "su": surgeon, "pr": procedure, "n": n})
            for key in _keys(month, surgeon, procedure):
                total = totals.setdefault(key, [0, 0, set()])
                total[0] += 1
                total[1] += n
                total[2].add(patient)
                figures = months.setdefault((*key, month), [0, 0])
                figures[0] += 1
                figures[1] += n
                visits.setdefault((*key, patient), set()).add(month)
    first: dict[tuple[str, str, str, str], int] = {}  # (dim, key, month, previous month or ''): patients
    for (dim, name, _), seen in visits.items():
        before = ""
        for at in sorted(seen):
            first[(dim, name, at, before)] = first.get((dim, name, at, before), 0) + 1
            before = at
    async with store.write() as db:
        for table in ("stats_sequence", "stats_total", "stats_member", "stats_month", "stats_visit", "stats_first",
                      "stats_built"):
            await db.execute(f"DELETE FROM {table}")
        await db.run_many("INSERT INTO stats_sequence (sequence_id, patient_id, month, surgeon, procedure, photos) "
                          "VALUES (:s, :p, :m, :su, :pr, :n)", rows)
        await db.run_many("INSERT INTO stats_total (dim, key, sequences, photos, patients) VALUES (:d, :k, :s, :n, :p)",
                          [{"d": d, "k": k, "s": t[0], "n": t[1], "p": len(t[2])} for (d, k), t in totals.items()])
        await db.run_many("INSERT INTO stats_member (dim, key, patient_id) VALUES (:d, :k, :p)",
                          [{"d": d, "k": k, "p": p} for (d, k), t in totals.items() for p in t[2]])
        await db.run_many("INSERT INTO stats_month (dim, key, month, sequences, photos) VALUES (:d, :k, :m, :s, :n)",
                          [{"d": d, "k": k, "m": m, "s": f[0], "n": f[1]} for (d, k, m), f in months.items()])
        await db.run_many("INSERT INTO stats_visit (dim, key, patient_id, month) VALUES (:d, :k, :p, :m)",
                          [{"d": d, "k": k, "p": p, "m": m} for (d, k, p), seen in visits.items() for m in seen])
        await db.run_many("INSERT INTO stats_first (dim, key, month, prev, patients) VALUES (:d, :k, :m, :v, :n)",
                          [{"d": d, "k": k, "m": m, "v": v, "n": n} for (d, k, m, v), n in first.items()])
        await db.execute("INSERT INTO stats_built (id, built_at) VALUES (1, :t)", {"t": now_iso()})
    return len(rows)


async def ensure_built(store: Db, keys: KeyStore) -> int | None:
    """Build the figures once (the first start of the version that keeps them); sequences counted, or None."""
    if await store.fetch_one("SELECT 1 AS x FROM stats_built WHERE id = 1") is not None:
        return None
    return await rebuild(store, keys)


def _row(key: str, label: str | None, sequences: int, photos: int, patients: int) -> dict[str, Any]:
    row: dict[str, Any] = {"key": key, "patients": patients, "sequences": sequences, "photos": photos}
    if label is not None:
        row["label"] = label
    return row


def _shown(fields: PatientFields, dim: str, stored: str) -> tuple[str, str | None]:
    """(key as shown, label) of a stored key."""
    if dim == "by_surgeon":
        return fields.open_key("surgeon", stored), None
    if dim == "by_procedure":
        code = fields.open_key("procedure", stored)
        coded = catalog.coded("procedure", code)
        return code, coded["label_en"] if coded else code
    return stored, None


async def _counts(store: Db, start: str | None, end: str | None) -> dict[tuple[str, str], tuple[int, int, int]]:
    """(sequences, photos, patients) of each (dimension, stored key), all time or over [start, end]."""
    covers = start is None and end is None
    if not covers:
        span = await store.fetch_one(  # from the small per-month table (a few rows a month)
            "SELECT MIN(month) AS a, MAX(month) AS b FROM stats_month WHERE dim = 'total' AND key = ''")
        covers = span is not None and span["a"] is not None and (start or "") <= span["a"] and span["b"] <= (end or "9999-99")
    if covers:  # every sequence counted: the all-time figures are these
        return {(r["dim"], r["key"]): (int(r["sequences"]), int(r["photos"]), int(r["patients"]))
                for r in await store.fetch_all("SELECT dim, key, sequences, photos, patients FROM stats_total")}
    # a patient counts once in [a, b]: at its first month there, the one whose previous month is before a
    values = {"a": start or "0000-00", "b": end or "9999-99"}
    counts: dict[tuple[str, str], list[int]] = {}
    for r in await store.fetch_all("SELECT dim, key, SUM(sequences) AS s, SUM(photos) AS p FROM stats_month "
                                   "WHERE month >= :a AND month <= :b GROUP BY dim, key", values):
        counts[(r["dim"], r["key"])] = [int(r["s"]), int(r["p"]), 0]
    for r in await store.fetch_all("SELECT dim, key, SUM(patients) AS n FROM stats_first "
                                   "WHERE month >= :a AND month <= :b AND prev < :a GROUP BY dim, key", values):
        if (r["dim"], r["key"]) in counts:
            counts[(r["dim"], r["key"])][2] = int(r["n"])
    return {key: (s, p, n) for key, (s, p, n) in counts.items()}


async def compute(store: Db, start: str | None = None, end: str | None = None) -> dict[str, Any]:
    """Figures over sequences whose month (date taken, else filed) is within [start, end] (YYYY-MM)."""
    counts = await _counts(store, start, end)
    sequences, photo_total, patients = counts.get((TOTAL, ""), (0, 0, 0))
    out: dict[str, Any] = {
        "patients": patients, "sequences": sequences, "photos": photo_total,
        "totals": {"patients": patients, "sequences": sequences, "photos": photo_total,
                   "sequences_per_patient": round(sequences / patients, 2) if patients else 0.0,
                   "photos_per_sequence": round(photo_total / sequences, 2) if sequences else 0.0},
        "from": start, "to": end,
    }
    for dim in DIMENSIONS:
        rows = []
        for (d, stored), (n_seq, n_photos, n_patients) in counts.items():
            if d == dim and n_seq:
                key, label = _shown(store.fields, dim, stored)
                rows.append(_row(key, label, n_seq, n_photos, n_patients))
        out[dim] = sorted(rows, key=lambda r: r["key"])
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
