from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable

import pytest

from sync_server.audit.commands import verify_export
from sync_server.audit.export import export
from sync_server.audit.log import AuditEvent, record
from sync_server.audit.service import log_origin
from sync_server.audit.tree import issue_checkpoint, log_verifier
from tests.conftest import both_backends


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """Every test here that touches the database runs on SQLite and on a real PostgreSQL."""
    return both_backends(request)


class Officer:
    """An officer with a log of ``n`` entries, a checkpoint they saved, and tools to check later logs."""

    def __init__(self, call: Callable[..., Any], services: Any, tmp: Path) -> None:
        self.call, self.services, self.tmp = call, services, tmp
        self.origin = log_origin(services.settings)
        self.vkey = log_verifier(services.keys, self.origin).vkey()
        self.exports = 0

    def append(self, n: int, patient: str = "IPP-0042") -> None:
        for i in range(n):
            self.call(record, self.services.store, AuditEvent(
                action="photo.view", actor="user:dr-house", patient_id=patient, object=f"photo/{i}",
                detail={"i": i}, address="10.0.0.7"))

    def checkpoint(self) -> Path:
        signed = self.call(issue_checkpoint, self.services.store, self.services.keys, self.origin, "test")
        path = self.tmp / f"trusted-{signed.checkpoint.size}"
        path.write_text(signed.note)
        Path(str(path) + ".vkey").write_text(self.vkey + "\n")
        return path

    def export(self) -> Path:
        self.exports += 1
        out = self.tmp / f"export-{self.exports}"
        self.call(export, self.services.store, out, self.origin, self.vkey)
        return out

    def verify(self, trusted: Path, directory: Path | None = None) -> Any:
        return verify_export(directory or self.export(), trusted, [])

    def sql(self, query: str, values: dict[str, Any] | None = None) -> Any:
        return self.call(self.services.store.execute, query, values)

    def row(self, seq: int) -> dict[str, Any]:
        return self.call(self.services.store.fetch_one, "SELECT * FROM audit_entry WHERE seq = :s", {"s": seq})


@pytest.fixture
def officer(call, services, tmp_path) -> Officer:
    return Officer(call, services, tmp_path)


def chained(prev: str, row: dict[str, Any]) -> str:
    from sync_server.audit.log import entry_hash
    return entry_hash(prev, row)


def rewrite_chain_from(officer: Officer, seq: int) -> None:
    """What a careful insider does after an edit: recompute every entry hash from ``seq`` on."""
    prev = officer.row(seq - 1)["entry_hash"] if seq > 1 else "0" * 64
    last = officer.call(officer.services.store.fetch_val, "SELECT MAX(seq) FROM audit_entry")
    for s in range(seq, last + 1):
        row = officer.row(s)
        new = chained(prev, row)
        officer.sql("UPDATE audit_entry SET prev_hash = :p, entry_hash = :h WHERE seq = :s", {"p": prev, "h": new, "s": s})
        prev = new
    officer.sql("UPDATE audit_head SET entry_hash = :h WHERE id = 1", {"h": prev})


__all__ = ["Officer", "chained", "rewrite_chain_from", "json", "hashlib"]
