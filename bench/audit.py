"""Audit benchmark: appends per second with the Merkle tree maintained, and offline verify time.

1. Appends go through the real ``sync_server.audit.log.record`` path (chain + tree nodes + right
   edge; concurrent calls coalesced into shared transactions, then the database's group commit)
   on SQLite in a temp folder, from many concurrent writers as during a sync; the baseline is a bare INSERT of a row of the same size
   through the same ``Db.write()`` in the same process, so the ratio is the cost of the audit.
2. Verify: ``verify_log`` (the pure verifier behind ``clinphoto audit verify --trusted``) over a
   generated export of N entries (default 1,000,000), read from a JSONL file as an export is.

    make bench                              # or: .venv/bin/python -m bench.audit --entries 100000
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync_server.audit import merkle
from crypto import KeyStore
from sync_server.audit.checkpoint import Checkpoint, sign_note, verifier
from sync_server.audit.log import GENESIS, AuditEvent, jcs, record, record_many
from sync_server.audit.verify import read_jsonl, verify_log
from sync_server.db import Db
from sync_server.storage.fields import PatientFields

ORIGIN = "bench.clinphoto/audit"


def _event(i: int) -> AuditEvent:
    return AuditEvent(action="photo.file", actor="device:5b9e2a0c", device_id="5b9e2a0c-3f1d-4a7e-9c2b-0e6f1d2c3b4a",
                      patient_id="IPP-0042", object=f"photo/{i:08d}-3f1d-4a7e-9c2b-0e6f1d2c3b4a",
                      detail={"sha256": hashlib.sha256(str(i).encode()).hexdigest(), "size": 4_000_000 + i},
                      address="10.1.2.3")


async def _appends(total: int, writers: int, per_write: int) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory(prefix="clinphoto-bench-audit-") as tmp:
        store = Db(f"sqlite:///{tmp}/bench.db", PatientFields(KeyStore.open(Path(tmp) / "keys")))  # patients sealed
        await store.connect()
        try:
            await store.execute("CREATE TABLE baseline (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
            body = json.dumps(dict(_event(0).__dict__, detail=dict(_event(0).detail)))

            async def bare(n: int) -> None:
                for _ in range(n):
                    async with store.write() as db:
                        await db.execute("INSERT INTO baseline (body) VALUES (:b)", {"b": body})

            async def audited(start: int, n: int) -> None:
                for i in range(start, start + n):
                    await record(store, _event(i))

            each = total // writers
            t0 = time.perf_counter()
            await asyncio.gather(*(bare(each) for _ in range(writers)))
            baseline = each * writers / (time.perf_counter() - t0)
            t0 = time.perf_counter()
            await asyncio.gather(*(audited(w * each, each) for w in range(writers)))
            rate = each * writers / (time.perf_counter() - t0)
            async def grouped(start: int, n: int) -> None:
                for i in range(start, start + n, per_write):
                    await record_many(store, [_event(j) for j in range(i, min(i + per_write, start + n))])

            t0 = time.perf_counter()
            await asyncio.gather(*(grouped((writers + w) * each, each) for w in range(writers)))
            batched = each * writers / (time.perf_counter() - t0)
            head = await store.fetch_one("SELECT seq, tree_size FROM audit_head WHERE id = 1")
            assert int(head["seq"]) == int(head["tree_size"]) == 2 * each * writers
            return rate, batched, baseline
        finally:
            await store.disconnect()


def _generate(path: Path, n: int) -> tuple[str, str]:
    """Write an export of ``n`` chained entries; return (trusted note, verifier key)."""
    key = Ed25519PrivateKey.generate()
    frontier = merkle.Frontier()
    prev = GENESIS
    with open(path, "w") as out:
        for seq in range(1, n + 1):
            event = _event(seq)
            entry = {"seq": seq, "ts": f"2026-11-27T08:{seq // 60000 % 60:02d}:{seq // 1000 % 60:02d}.{seq % 1000:03d}000Z",
                     "actor": event.actor, "device_id": event.device_id, "action": event.action, "outcome": "0",
                     "patient_id": event.patient_id, "object": event.object, "detail": dict(event.detail),
                     "address": event.address}
            leaf = jcs(entry)
            digest = hashlib.sha256(bytes.fromhex(prev) + leaf).hexdigest()
            leaf_digest = merkle.leaf_hash(leaf)
            frontier.append(leaf_digest)
            out.write(json.dumps({**entry, "detail": json.dumps(entry["detail"], sort_keys=True), "prev_hash": prev,
                                  "entry_hash": digest, "leaf_hash": leaf_digest.hex()}) + "\n")
            prev = digest
    note = sign_note(Checkpoint(ORIGIN, n, frontier.root()).text(), ORIGIN, key)
    return note, verifier(ORIGIN, key.public_key()).vkey()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--appends", type=int, default=6400, help="entries appended (default 6400)")
    parser.add_argument("--writers", type=int, default=64, help="concurrent writers (default 64)")
    parser.add_argument("--per-write", type=int, default=20,
                        help="entries per transaction in the batched run, as a batch commit writes them (default 20)")
    parser.add_argument("--entries", type=int, default=1_000_000, help="entries verified (default 1,000,000)")
    args = parser.parse_args()

    rate, batched, baseline = asyncio.run(_appends(args.appends, args.writers, args.per_write))
    print(f"audit appends, chain + Merkle tree maintained, {args.writers} concurrent writers, SQLite "
          f"synchronous=FULL: record() one entry per call {rate:,.0f}/s (concurrent calls share transactions); "
          f"record_many() {args.per_write} per call {batched:,.0f}/s. Baseline, a bare one-row INSERT per transaction through the same "
          f"writer: {baseline:,.0f}/s (ratio {rate / baseline:.2f} and {batched / baseline:.2f}). "
          f"Target > 2,000/s: {'met' if max(rate, batched) > 2000 else 'NOT met'}")

    from sync_server.audit.checkpoint import parse_vkey

    with tempfile.TemporaryDirectory(prefix="clinphoto-bench-verify-") as tmp:
        path = Path(tmp) / "entries.jsonl"
        t0 = time.perf_counter()
        note, vkey = _generate(path, args.entries)
        made = time.perf_counter() - t0
        t0 = time.perf_counter()
        with open(path) as handle:
            report = verify_log(read_jsonl(handle), note, [parse_vkey(vkey)])
        took = time.perf_counter() - t0
    assert report.ok and report.entries == args.entries, report
    print(f"offline verify of {args.entries:,} entries (chain + Merkle tree recomputed + signed checkpoint): "
          f"{took:.1f} s, {args.entries / took:,.0f} entries/s (generating them took {made:.1f} s, "
          f"ratio verify/generate {took / made:.2f})")


if __name__ == "__main__":
    main()
