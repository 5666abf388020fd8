"""Patients, timelines and consent as clinicians read them; the database side of ``endpoints/clinical.py``.

Patient identifiers are stored sealed and the index's names and birth dates encrypted (``storage/fields.py``):
the functions here take identifiers in clear (or as stored) and answer them in clear."""
from __future__ import annotations

import re
from typing import Any, Iterable, Mapping, Sequence

from crypto import KeyStore

from ..audit.log import AuditEvent, append
from ..db import Db
from ..storage.fields import fold, name_words, open_form, open_patient
from . import catalog
from ..clock import now_iso

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{2,31}$")
MAX_RESULTS = 50
MAX_RECENT = 20
PHOTO_STATES = {"verified": "verified", "quarantined": "quarantined"}  # anything else: still "pending"



def _in(prefix: str, values: Iterable[str]) -> tuple[str, dict[str, str]]:
    params = {f"{prefix}{i}": v for i, v in enumerate(values)}
    return ", ".join(f":{k}" for k in params) or "NULL", params


async def is_restricted(store: Db, patient_id: str) -> bool:
    return await store.fetch_one("SELECT 1 AS x FROM audit_restricted_patient WHERE patient_id = :p",
                                 {"p": store.fields.pid(patient_id)}) is not None


async def _patients(store: Db, ids: list[str]) -> list[dict[str, Any]]:
    """Patient objects for these ids (in clear or as stored), in this order; ids neither indexed nor filed are
    left out."""
    if not ids:
        return []
    fields = store.fields
    ids = fields.pids(ids)
    marks, params = _in("i", ids)
    index = {r["id"]: open_patient(fields, r) for r in await store.fetch_all(
        f"SELECT id, family, given, birth_date, sex FROM patient_index WHERE id IN ({marks})", params)}
    counts = {r["patient_id"]: r for r in await store.fetch_all(
        "SELECT s.patient_id, COUNT(DISTINCT s.id) AS sequences, COUNT(p.id) AS photos, MAX(p.captured_at) AS last "
        f"FROM sequence s LEFT JOIN photo p ON p.sequence_id = s.id AND p.state <> 'expected' "
        f"WHERE s.patient_id IN ({marks}) GROUP BY s.patient_id", params)}
    restricted = {r["patient_id"] for r in await store.fetch_all(
        f"SELECT patient_id FROM audit_restricted_patient WHERE patient_id IN ({marks})", params)}
    out = []
    for pid in ids:
        row, count = index.get(pid), counts.get(pid)
        if row is None and count is None:
            continue
        out.append({"id": fields.open_pid(pid), "family": row["family"] if row else None, "given": row["given"] if row else None,
                    "birth_date": row["birth_date"] if row else None, "sex": row["sex"] if row else None,
                    "restricted": pid in restricted, "sequences": int(count["sequences"]) if count else 0,
                    "photos": int(count["photos"]) if count else 0, "last_taken_at": count["last"] if count else None})
    return out


async def patient(store: Db, patient_id: str) -> dict[str, Any] | None:
    found = await _patients(store, [patient_id])
    return found[0] if found else None


async def search(store: Db, q: str, birth_date: str | None) -> list[dict[str, Any]]:
    """Exact hospital identifier (indexed or only filed), or name words as prefixes of family/given names.

    Names never hold digits, so a query with one is an identifier only. Names are encrypted: each query word
    is looked up by its keyed token (every prefix of every folded name word has one, ``storage/fields.py``),
    the patients holding all of them are opened and put in name order here."""
    q = q.strip()
    fields = store.fields
    ids: list[str] = [fields.pid(q)] if ID_RE.match(q) else []
    words = [] if any(c.isdigit() for c in q) else name_words(q)
    if words:
        tokens = [fields.token("name", w) for w in words] + ([fields.token("birth", birth_date)] if birth_date else [])
        joins = " ".join(f"JOIN patient_search t{i} ON t{i}.patient_id = i.id AND t{i}.token = :t{i}"
                         for i in range(len(tokens)))
        rows = await store.fetch_all(
            f"SELECT i.id, i.family, i.given FROM patient_index i {joins} WHERE i.merged_into IS NULL",
            {f"t{i}": t for i, t in enumerate(tokens)})
        named = sorted((open_patient(fields, r) for r in rows),
                       key=lambda p: (fold(p["family"] or ""), fold(p["given"] or ""), p["id"]))
        ids += [fields.pid(p["id"]) for p in named if fields.pid(p["id"]) not in ids]
    found = await _patients(store, ids[:MAX_RESULTS])
    return [p for p in found if not birth_date or p["birth_date"] == birth_date]


async def remember(store: Db, person_id: str, patient_id: str) -> None:
    patient_id = store.fields.pid(patient_id)
    async with store.write() as db:
        await db.execute("DELETE FROM patient_recent WHERE person_id = :u AND patient_id = :p",
                         {"u": person_id, "p": patient_id})
        await db.execute("INSERT INTO patient_recent (person_id, patient_id, opened_at) VALUES (:u, :p, :t)",
                         {"u": person_id, "p": patient_id, "t": now_iso("microseconds")})


async def recent(store: Db, person_id: str) -> list[dict[str, Any]]:
    rows = await store.fetch_all("SELECT patient_id FROM patient_recent WHERE person_id = :u "
                                 f"ORDER BY opened_at DESC LIMIT {MAX_RECENT}", {"u": person_id})
    return await _patients(store, [r["patient_id"] for r in rows])


async def consents(store: Db, sequence_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Each sequence's consent changes, oldest first."""
    if not sequence_ids:
        return {}
    marks, params = _in("s", sequence_ids)
    out: dict[str, list[dict[str, Any]]] = {}
    for r in await store.fetch_all(
            "SELECT sequence_id, previous, level, reason, changed_by, changed_at FROM sequence_consent "
            f"WHERE sequence_id IN ({marks}) ORDER BY id", params):
        out.setdefault(r["sequence_id"], []).append(
            {k: r[k] for k in ("previous", "level", "reason", "changed_by", "changed_at")})
    return out


def consent_level(form: Mapping[str, Any], changes: list[dict[str, Any]]) -> str:
    return changes[-1]["level"] if changes else str(form.get("consent", "record"))


def _taken_by(form: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": None, "name": form.get("surgeon") or None}


def _photo(row: Mapping[str, Any], form: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "sequence_id": row["sequence_id"], "view": row["view"],
            "view_label": catalog.view_label(row["view"]), "captured_at": row["captured_at"],
            "width": row["width"], "height": row["height"], "state": PHOTO_STATES.get(row["state"], "pending"),
            "taken_by": _taken_by(form)}


def sequence_view(seq: Mapping[str, Any], form: Mapping[str, Any], photos: Sequence[Mapping[str, Any]],
                  changes: list[dict[str, Any]], patient_id: str) -> dict[str, Any]:
    """The Sequence object of the contract (docs/clinical-api.md), from its row, its opened form and its
    patient's identifier in clear."""
    timing = form.get("timing") or {}
    delay = timing.get("delay_days")
    # a sequence shows its photos by view, in its protocol's order (extra views after), then as taken
    expected = catalog.protocol_views(str(form.get("view_protocol", "")))
    rank = {view: i for i, view in enumerate(expected)}
    shots = [_photo(p, form) for p in sorted(
        photos, key=lambda p: (rank.get(p["view"], len(expected)), p["captured_at"], p["id"]))]
    captured = sorted(p["captured_at"] for p in photos)
    return {
        "id": seq["id"], "patient_id": patient_id,
        "taken_at": captured[0] if captured else form.get("performed_on") or seq["created_at"],
        "performed_on": form.get("performed_on"), "filed_at": seq["created_at"],
        "procedure": catalog.coded("procedure", form.get("procedure")),
        "region": catalog.coded("anatomical_region", form.get("anatomical_region")),
        "laterality": form.get("laterality"), "phase": timing.get("phase"),
        "delay": {"value": delay, "unit": "day"} if delay is not None else None,
        "consent": consent_level(form, changes), "consent_history": changes,
        "taken_by": _taken_by(form), "note": form.get("note"),
        # false: the identifier was not in the phone's list of today's patients (or it had none) when the
        # sequence was made; reconciliation with the patient index decides (None: made before the list)
        "patient_verified": form.get("patient_verified"),
        "protocol": catalog.protocol(form, [p["view"] for p in photos if p["state"] != "quarantined"]),
        "photos": shots,
    }


async def _photos_of(store: Db, sequence_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    if not sequence_ids:
        return {}
    marks, params = _in("s", sequence_ids)
    out: dict[str, list[dict[str, Any]]] = {}
    for r in await store.fetch_all(
            "SELECT id, sequence_id, view, captured_at, width, height, state FROM photo "
            f"WHERE sequence_id IN ({marks}) AND state <> 'expected' ORDER BY captured_at, id", params):
        out.setdefault(r["sequence_id"], []).append(dict(r))
    return out


async def timeline(store: Db, keys: KeyStore, patient_id: str) -> list[dict[str, Any]]:
    """The patient's sequences, newest first."""
    seqs = await store.fetch_all("SELECT id, patient_id, form, created_at FROM sequence WHERE patient_id = :p",
                                 {"p": store.fields.pid(patient_id)})
    ids = [s["id"] for s in seqs]
    photos, changes = await _photos_of(store, ids), await consents(store, ids)
    clear = store.fields.open_pid(patient_id)
    views = [sequence_view(s, open_form(keys, s["id"], s["form"]), photos.get(s["id"], []), changes.get(s["id"], []),
                           clear) for s in seqs]
    return sorted(views, key=lambda v: (v["taken_at"], v["id"]), reverse=True)


async def sequence(store: Db, keys: KeyStore, sequence_id: str) -> dict[str, Any] | None:
    seq = await store.fetch_one("SELECT id, patient_id, form, created_at FROM sequence WHERE id = :id",
                                {"id": sequence_id})
    if seq is None:
        return None
    photos, changes = await _photos_of(store, [sequence_id]), await consents(store, [sequence_id])
    return sequence_view(seq, open_form(keys, sequence_id, seq["form"]), photos.get(sequence_id, []),
                         changes.get(sequence_id, []), store.fields.open_pid(seq["patient_id"]))


async def change_consent(store: Db, keys: KeyStore, sequence_id: str, level: str, reason: str, actor: str,
                         audit: Mapping[str, Any]) -> tuple[str, str]:
    """Record a consent change (kept as history) and its audit entry in one transaction; (old, new)."""
    async with store.write() as db:
        seq = await db.fetch_one("SELECT patient_id, form FROM sequence WHERE id = :id", {"id": sequence_id})
        assert seq is not None
        last = await db.fetch_one("SELECT level FROM sequence_consent WHERE sequence_id = :s ORDER BY id DESC LIMIT 1",
                                  {"s": sequence_id})
        old = last["level"] if last else str(open_form(keys, sequence_id, seq["form"]).get("consent", "record"))
        await db.execute(
            "INSERT INTO sequence_consent (sequence_id, previous, level, reason, changed_by, changed_at) "
            "VALUES (:s, :o, :l, :r, :a, :t)",
            {"s": sequence_id, "o": old, "l": level, "r": reason, "a": actor, "t": now_iso()})
        await append(db, AuditEvent(action="sequence.consent", actor=actor, patient_id=seq["patient_id"],
                                    object=f"sequence:{sequence_id}",
                                    detail={"old": old, "new": level, "reason": reason, **audit.get("detail", {})},
                                    address=audit.get("address")))
    return old, level


async def photos_for_export(store: Db, keys: KeyStore, photo_ids: list[str]) -> list[dict[str, Any]]:
    """The photos asked for, with their sequence's form, patient and current consent; unknown ids left out."""
    marks, params = _in("p", photo_ids)
    rows = [dict(r) for r in await store.fetch_all(
        "SELECT p.id, p.sequence_id, p.view, p.captured_at, p.state, p.mime, p.storage_key, s.patient_id, s.form "
        f"FROM photo p JOIN sequence s ON s.id = p.sequence_id WHERE p.id IN ({marks})", params)]
    changes = await consents(store, sorted({r["sequence_id"] for r in rows}))
    for r in rows:
        r["patient_id"] = store.fields.open_pid(r["patient_id"])
        r["form"] = open_form(keys, r["sequence_id"], r["form"])
        r["consent"] = consent_level(r["form"], changes.get(r["sequence_id"], []))
    order = {pid: i for i, pid in enumerate(photo_ids)}
    return sorted(rows, key=lambda r: order[r["id"]])
