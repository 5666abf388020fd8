"""What an earlier version stored in clear, sealed in place at start (``storage/fields.py`` says how each
value is kept): sequence forms, patient identifiers, the patient index's fields and their search tokens,
and the audit entries' patients (their leaves keep the identifiers, so the chain still verifies)."""
from __future__ import annotations

import json

from crypto import KeyStore

from ..audit.log import open_entry, stored_row
from ..clock import now_iso
from ..db import Db, Writer
from .fields import ID_PREFIX, PATIENT_FIELDS, open_patient, seal_form, seal_patient

_BATCH = 500


async def seal_clear_forms(store: Db, keys: KeyStore) -> int:
    """Seal in place every form still stored in clear; how many. Runs at start, in batches."""
    sealed, after = 0, ""
    while True:
        rows = await store.fetch_all("SELECT id, form FROM sequence WHERE substr(form, 1, 5) <> 'cpr1:' AND id > :a "
                                     "ORDER BY id LIMIT :n", {"a": after, "n": _BATCH})
        if not rows:
            return sealed
        after = rows[-1]["id"]
        async with store.write() as db:
            for row in rows:
                await db.execute("UPDATE sequence SET form = :f WHERE id = :id AND form = :old",
                                 {"f": seal_form(keys, row["id"], json.loads(row["form"])), "id": row["id"],
                                  "old": row["form"]})
        sealed += len(rows)


# Every column that holds a patient identifier (sealed with ``PatientFields.pid``).
ID_COLUMNS = (("sequence", "patient_id"), ("sequence_identity", "claimed_id"), ("sequence_identity", "patient_id"),
              ("patient_index", "id"), ("patient_index", "merged_into"), ("patient_identifier", "value"),
              ("patient_identifier", "patient_id"), ("patient_visit", "patient_id"), ("patient_recent", "patient_id"),
              ("interop_outbox", "sent_patient_id"), ("audit_alert", "patient_id"),
              ("audit_restricted_patient", "patient_id"))


async def rename_patient(db: Writer, old: str, new: str) -> None:
    """Give an index row another stored id: a copy under the new id, its identifiers moved to it, the old
    row deleted (``patient_identifier`` references it, and no database defers that check for an update)."""
    row = await db.fetch_one("SELECT * FROM patient_index WHERE id = :id", {"id": old})
    if row is None:
        return
    values = {**dict(row), "id": new}
    columns = ", ".join(values)
    await db.execute(f"INSERT INTO patient_index ({columns}) VALUES ({', '.join(':' + c for c in values)})", values)
    await db.execute("UPDATE patient_identifier SET patient_id = :n WHERE patient_id = :o", {"n": new, "o": old})
    await db.execute("DELETE FROM patient_index WHERE id = :o", {"o": old})


async def seal_clear_patients(store: Db) -> int:
    """Seal in place what an earlier version stored in clear: identifiers, the index's fields (and their
    search tokens), the audit entries' patients (their leaves keep the identifiers, so the chain still
    verifies). Runs at start until it has once finished; how many values it sealed."""
    if await store.fetch_one("SELECT 1 AS x FROM patient_fields_sealed WHERE id = 1") is not None:
        return 0
    fields, sealed = store.fields, 0
    for table, column in ID_COLUMNS:
        if table == "patient_index" and column == "id" or table == "patient_identifier" and column == "patient_id":
            continue  # an index row and the identifiers referencing it: moved together below
        clear = [r["v"] for r in await store.fetch_all(
            f"SELECT DISTINCT {column} AS v FROM {table} WHERE {column} IS NOT NULL AND substr({column}, 1, 5) <> :p",
            {"p": ID_PREFIX})]
        for start in range(0, len(clear), _BATCH):
            async with store.write() as db:
                for value in clear[start:start + _BATCH]:
                    await db.execute(f"UPDATE {table} SET {column} = :s WHERE {column} = :c",
                                     {"s": fields.pid(value), "c": value})
        sealed += len(clear)
    clear = [r["id"] for r in await store.fetch_all("SELECT id FROM patient_index WHERE substr(id, 1, 5) <> :p",
                                                    {"p": ID_PREFIX})]
    for start in range(0, len(clear), _BATCH):
        async with store.write() as db:
            for value in clear[start:start + _BATCH]:
                await rename_patient(db, value, fields.pid(value))
    sealed += len(clear)
    rows = await store.fetch_all("SELECT id, subject FROM audit_alert WHERE kind = 'restricted_patient' "
                                 "AND substr(subject, 1, 5) <> :p", {"p": ID_PREFIX})
    async with store.write() as db:  # a restricted-patient alert's subject is "<patient>|<actor>"
        for row in rows:
            patient, _, actor = row["subject"].partition("|")
            await db.execute("UPDATE audit_alert SET subject = :s WHERE id = :id",
                             {"s": f"{fields.pid(patient)}|{actor}", "id": row["id"]})
    after = ""
    while True:  # the index's fields, and the search tokens an earlier version had none of
        rows = await store.fetch_all(
            "SELECT i.id, i.family, i.given, i.birth_date, i.sex, "
            "(SELECT COUNT(*) FROM patient_search t WHERE t.patient_id = i.id) AS tokens "
            "FROM patient_index i WHERE i.id > :a ORDER BY i.id LIMIT :n", {"a": after, "n": _BATCH})
        if not rows:
            break
        after = rows[-1]["id"]
        async with store.write() as db:
            for row in rows:
                values = open_patient(fields, row)
                stored = seal_patient(fields, row["id"], values)
                if any(row[f] != stored[f] for f in PATIENT_FIELDS):
                    await db.execute("UPDATE patient_index SET family = :family, given = :given, "
                                     "birth_date = :birth_date, sex = :sex WHERE id = :id", {**stored, "id": row["id"]})
                    sealed += 1
                if not int(row["tokens"]):
                    for token in sorted(fields.search_tokens(values["family"], values["given"], values["birth_date"])):
                        await db.execute("INSERT INTO patient_search (token, patient_id) VALUES (:k, :p)",
                                         {"k": token, "p": row["id"]})
    seq = -1
    while True:  # audit entries: the row keeps the sealed identifiers, the leaf the clear ones
        rows = await store.fetch_all(
            "SELECT seq, patient_id, object, detail FROM audit_entry WHERE seq > :a AND (patient_id IS NOT NULL "
            "OR object LIKE :o1 OR object LIKE :o2 OR detail LIKE :d) ORDER BY seq LIMIT :n",
            {"a": seq, "n": _BATCH, "o1": "patient:%", "o2": "Patient/%", "d": "%patient%"})
        if not rows:
            break
        seq = int(rows[-1]["seq"])
        async with store.write() as db:
            for row in rows:
                stored = stored_row(open_entry(row, fields), fields)
                if any(stored[k] != row[k] for k in ("patient_id", "object", "detail")):  # the leaf reads parsed detail
                    await db.execute("UPDATE audit_entry SET patient_id = :p, object = :o, detail = :d WHERE seq = :s",
                                     {"p": stored["patient_id"], "o": stored["object"], "d": stored["detail"],
                                      "s": row["seq"]})
                    sealed += 1
    async with store.write() as db:
        await db.execute("INSERT INTO patient_fields_sealed (id, sealed_at) VALUES (1, :t) ON CONFLICT (id) DO NOTHING",
                         {"t": now_iso()})
    return sealed
