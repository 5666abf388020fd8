"""``clinphoto audit export``: the log, its checkpoints and its retention summary, as files.

    entries.jsonl        one entry a line, seq order, with prev_hash, entry_hash and leaf_hash
    checkpoints.jsonl    every signed checkpoint: {"size", "root_hash", "reason", "created_at", "note"}
    checkpoint           the latest signed checkpoint (a C2SP signed note): keep it to verify later
    log.vkey             the server's verifier key now; keep your own copy beside your checkpoint
    prune.json           the latest retention summary (signed), when the log was pruned
    audit-events.ndjson  the same entries as FHIR R4 AuditEvent resources
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, AsyncIterator

from ..db import Db
from .fhir import audit_event
from .log import open_entry

PAGE = 5_000


async def iter_entries(store: Db) -> AsyncIterator[dict[str, Any]]:
    after = -1
    while True:
        rows = await store.fetch_all(
            "SELECT e.*, n.hash AS leaf_hash FROM audit_entry e LEFT JOIN audit_node n "
            "ON n.level = 0 AND n.idx = e.seq - 1 WHERE e.seq > :a ORDER BY e.seq LIMIT :n", {"a": after, "n": PAGE})
        for row in rows:
            entry = open_entry(row, store.field_keys)  # identifiers in clear, as the leaf holds them
            if isinstance(entry["detail"], dict):
                entry["detail"] = json.dumps(entry["detail"], sort_keys=True)  # as stored, a JSON text
            yield entry
        if len(rows) < PAGE:
            return
        after = int(rows[-1]["seq"])


async def export(store: Db, out: Path, origin: str, vkey: str) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    with open(out / "entries.jsonl", "w") as entries, open(out / "audit-events.ndjson", "w") as fhir:
        async for row in iter_entries(store):
            entries.write(json.dumps(row, sort_keys=True) + "\n")
            fhir.write(json.dumps(audit_event(row, origin), sort_keys=True) + "\n")
            count += 1
    checkpoints = await store.fetch_all(
        "SELECT size, root_hash, reason, created_at, note FROM audit_checkpoint ORDER BY id")
    with open(out / "checkpoints.jsonl", "w") as handle:
        for row in checkpoints:
            handle.write(json.dumps(row, sort_keys=True) + "\n")
    if checkpoints:
        (out / "checkpoint").write_text(checkpoints[-1]["note"])
    (out / "log.vkey").write_text(vkey + "\n")
    summary = await store.fetch_one("SELECT summary FROM audit_prune ORDER BY cut DESC LIMIT 1")
    if summary is not None:
        (out / "prune.json").write_text(summary["summary"])
    return {"entries": count, "checkpoints": len(checkpoints)}


def load_export(directory: Path) -> tuple[Any, list[str], dict[str, Any] | None]:
    """(entries iterator, checkpoint notes in issue order, retention summary or None)."""
    from .verify import read_jsonl

    notes = [row["note"] for row in read_jsonl((directory / "checkpoints.jsonl").read_text().splitlines())] \
        if (directory / "checkpoints.jsonl").exists() else []
    summary = json.loads((directory / "prune.json").read_text()) if (directory / "prune.json").exists() else None

    def entries() -> Any:
        with open(directory / "entries.jsonl") as handle:
            yield from read_jsonl(handle)
    return entries(), notes, summary
