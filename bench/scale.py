"""Metadata at scale (issue 14, point 4): 100,000 patients, 1,000,000 photos and 3,000,000 audit entries
generated straight into a migrated SQLite database (the rows the sync would have written, stored as the
server stores them; no image bytes), then the patient timeline, the audit search by patient, the name
search and the activity figures, each timed over random patients. Prints p50/p95 per query against the
50 ms target. With ``--postgresql`` the same rows are copied into a throwaway PostgreSQL cluster (Debian's
binaries, as the tests use) and the same queries are timed there too.

    make bench          # or: .venv/bin/python -m bench.scale [--patients 100000 --photos 1000000] [--postgresql]
"""
from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable

from crypto import KeyStore
from sync_server.audit.search import Filters, Paging, page
from sync_server.clinical import queries, stats
from sync_server.db import Db
from sync_server.storage.fields import PatientFields, seal_form, seal_patient

TARGET_MS = 50.0


def _form(keys: KeyStore, sequence_id: str, patient: str, rng: random.Random) -> str:
    """A form as the server stores it: encrypted at rest (sync_server/storage/fields.py)."""
    month = rng.randrange(1, 12)
    return seal_form(keys, sequence_id, {"sequence_id": sequence_id, "patient_id": patient, "performed_on": f"2026-{month:02d}-15",
                       "procedure": rng.choice(["rhinoplasty", "skin_tumour_excision"]), "anatomical_region": "nose",
                       "laterality": "not_applicable", "timing": {"phase": "pre_op"}, "consent": "record",
                       "view_protocol": "rhinoplasty", "surgeon": f"Dr {rng.randrange(40)}"})


def _letters(n: int) -> str:
    """``n`` in base 26 with letters (names hold no digits)."""
    out = ""
    while True:
        n, r = divmod(n, 26)
        out = "abcdefghijklmnopqrstuvwxyz"[r] + out
        if not n:
            return out


def fill(path: Path, keys: KeyStore, patients: int, photos: int, audit_per_photo: int, seed: int) -> list[str]:
    """Write the rows in a few large transactions; returns the patient ids."""
    rng = random.Random(seed)
    fields = PatientFields(keys)  # stored as the server stores them: identifiers sealed, names encrypted
    ids = [f"IPP-S{n:07d}" for n in range(patients)]
    sealed = {p: fields.pid(p) for p in ids}
    sequences = max(patients, photos * 2345 // 8112)  # the published year's shape: ~3.5 photos a sequence
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")  # generation only; the server's own pragmas apply when it reads
    def demographics(n: int) -> dict[str, str]:
        return {"family": f"Fam{_letters(n % 5000)}", "given": f"Giv{_letters(n % 700)}",
                "birth_date": f"19{50 + n % 50}-0{1 + n % 9}-1{n % 9}", "sex": "F" if n % 2 else "M"}

    def index_rows() -> Any:
        for n, p in enumerate(ids):
            values = seal_patient(fields, sealed[p], demographics(n))
            yield (sealed[p], values["family"], values["given"], values["birth_date"], values["sex"])
    db.executemany("INSERT INTO patient_index (id, family, given, birth_date, sex, source, updated_at) "
                   "VALUES (?, ?, ?, ?, ?, 'bench', '2026-01-01T00:00:00Z')", index_rows())
    db.executemany("INSERT INTO patient_search (token, patient_id) VALUES (?, ?)",
                   ((token, sealed[p]) for n, p in enumerate(ids)
                    for token in fields.search_tokens(**{k: v for k, v in demographics(n).items() if k != "sex"})))
    seq_rows = []
    for n in range(sequences):
        patient = ids[n] if n < patients else rng.choice(ids)
        sid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        seq_rows.append((sid, sealed[patient], _form(keys, sid, patient, rng)))
    db.executemany("INSERT INTO sequence (id, patient_id, device_id, form_sha256, form, created_at) "
                   "VALUES (?, ?, 'bench-device', '0', ?, '2026-06-01T00:00:00Z')", seq_rows)
    db.commit()

    def photo_rows() -> Any:
        for n in range(photos):
            sid = seq_rows[n][0] if n < sequences else rng.choice(seq_rows)[0]
            yield (str(uuid.UUID(int=rng.getrandbits(128), version=4)), sid, "frontal", "2026-06-01T08:00:00Z",
                   "image/jpeg", "0" * 64, "0" * 64, 4_500_000, "verified", 4_400_000, 4000, 3000)
    db.executemany("INSERT INTO photo (id, sequence_id, view, captured_at, mime, sha256, sealed_sha256, sealed_size, "
                   "state, size, width, height) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", photo_rows())
    db.commit()
    patient_of = {s[0]: s[1] for s in seq_rows}
    photo_seq = db.execute("SELECT id, sequence_id FROM photo").fetchall()

    def audit_rows() -> Any:
        seq = 0
        for photo_id, sid in photo_seq:
            for action in ("upload.create", "photo.file", "photo.verify")[:audit_per_photo]:
                seq += 1
                yield (seq, f"2026-06-01T08:{seq // 60 % 60:02d}:{seq % 60:02d}Z", "device:bench", "bench-device",
                       action, "0", patient_of[sid], f"photo/{photo_id}", "{}", "10.0.0.1", "0" * 64, "0" * 64)
    db.executemany("INSERT INTO audit_entry (seq, ts, actor, device_id, action, outcome, patient_id, object, detail, "
                   "address, prev_hash, entry_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", audit_rows())
    db.commit()
    db.execute("ANALYZE")
    db.close()
    return ids


async def _time(work: Callable[[], Awaitable[Any]], samples: int, budget_s: float) -> list[float]:
    times: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(times) < samples and (len(times) < 3 or time.perf_counter() < deadline):
        t = time.perf_counter()
        await work()
        times.append((time.perf_counter() - t) * 1000)
    return times


def _line(name: str, times: list[float]) -> str:
    q = statistics.quantiles(times, n=20, method="inclusive") if len(times) > 1 else [times[0]] * 19
    p95 = q[18]
    verdict = "within" if p95 <= TARGET_MS else "OVER"
    return (f"  {name}: p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms over {len(times)} runs "
            f"({verdict} the {TARGET_MS:.0f} ms target)")


async def measure(url: str, keys: KeyStore, ids: list[str], seed: int) -> list[str]:
    rng = random.Random(seed + 1)
    store = Db(url, PatientFields(keys))
    await store.connect()
    try:
        timeline = await _time(lambda: queries.timeline(store, keys, rng.choice(ids)), 200, 30)
        audit = await _time(lambda: page(store, Filters(patient=rng.choice(ids)), Paging(limit=50)), 200, 30)
        # a family name and a given-name prefix, as a clinician types them (each family holds ~20 patients)
        families = min(len(ids), 5000)
        names = await _time(lambda: queries.search(store, f"fam{_letters(rng.randrange(families))} giv", None), 200, 30)
        built = time.perf_counter()
        counted = await stats.rebuild(store, keys)  # the rows were written behind the server's back
        built = time.perf_counter() - built
        figures = await _time(lambda: stats.compute(store), 200, 30)
        month = await _time(lambda: stats.compute(store, "2026-06", "2026-06"), 50, 30)
        half = await _time(lambda: stats.compute(store, "2026-01", "2026-06"), 10, 60)
        year = await _time(lambda: stats.compute(store, "2026-01", "2026-12"), 50, 30)
    finally:
        await store.disconnect()
    return [_line("patient timeline", timeline), _line("audit search by patient (50 a page)", audit),
            _line("patient search by name (keyed tokens)", names),
            _line("activity figures (all months)", figures),
            _line("activity figures (one month, 1/11 of the sequences)", month),
            _line("activity figures (six months, about half the sequences)", half),
            _line("activity figures (a year holding every month there is: the all-time figures)", year),
            f"  (figures built from {counted} sequences' forms in {built:.1f} s, once; kept as work is filed after)"]


_COPIED = {  # the tables fill() writes, and their columns
    "patient_index": ("id", "family", "given", "birth_date", "sex", "source", "updated_at"),
    "patient_search": ("token", "patient_id"),
    "sequence": ("id", "patient_id", "device_id", "form_sha256", "form", "created_at"),
    "photo": ("id", "sequence_id", "view", "captured_at", "mime", "sha256", "sealed_sha256", "sealed_size", "state",
              "size", "width", "height"),
    "audit_entry": ("seq", "ts", "actor", "device_id", "action", "outcome", "patient_id", "object", "detail",
                    "address", "prev_hash", "entry_hash"),
}


async def copy_to_postgresql(path: Path, url: str) -> None:
    """The generated rows, streamed from the SQLite file into the migrated PostgreSQL database (COPY)."""
    import asyncpg

    store = Db(url)
    await store.connect()  # migrates
    await store.disconnect()
    source = sqlite3.connect(path)
    target = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        for table, columns in _COPIED.items():
            cursor = source.execute(f"SELECT {', '.join(columns)} FROM {table}")
            while rows := cursor.fetchmany(50_000):
                await target.copy_records_to_table(table, records=rows, columns=list(columns))
        await target.execute("ANALYZE")
    finally:
        await target.close()
        source.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--photos", type=int, default=1_000_000)
    parser.add_argument("--audit-per-photo", type=int, default=3)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--postgresql", action="store_true", help="time the same queries on PostgreSQL too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="clinphoto-scale-") as tmp:
        path = Path(tmp) / "clinphoto.db"
        url = f"sqlite:///{path}"

        async def migrate() -> None:
            store = Db(url)
            await store.connect()
            await store.disconnect()
        asyncio.run(migrate())
        started = time.perf_counter()
        keys = KeyStore.open(Path(tmp) / "keys")
        ids = fill(path, keys, args.patients, args.photos, args.audit_per_photo, args.seed)
        made = time.perf_counter() - started
        lines = asyncio.run(measure(url, keys, ids, args.seed))
        size_mb = sum(f.stat().st_size for f in Path(tmp).iterdir() if f.is_file()) / 1e6
        print(f"metadata at scale (SQLite): {args.patients} patients, {args.photos} photos, "
              f"{args.photos * args.audit_per_photo} audit entries generated in {made:.0f} s ({size_mb:.0f} MB)")
        print("\n".join(lines), flush=True)
        if args.postgresql:
            sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
            from tests.support.postgres import PostgresCluster

            cluster = PostgresCluster().start()
            try:
                pg_url = cluster.create_database("scale")
                copied = time.perf_counter()
                asyncio.run(copy_to_postgresql(path, pg_url))
                copied = time.perf_counter() - copied
                print(f"metadata at scale (PostgreSQL {cluster.bindir.parent.name}): the same rows, copied in "
                      f"{copied:.0f} s")
                print("\n".join(asyncio.run(measure(pg_url, keys, ids, args.seed))))
            finally:
                cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
