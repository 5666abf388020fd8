"""What ``clinphoto audit export`` and ``clinphoto audit verify`` do; ``cli.py`` only wires them."""
from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any, Sequence

from crypto import KeyStore

from ..db import Db, with_db
from ..settings import Settings
from .checkpoint import CheckpointError, Verifier, parse_vkey
from .export import export, load_export
from .log import verify_chain
from .service import install_origin
from .tree import log_verifier
from .verify import Report, verify_log


def run_export(settings: Settings, out: Path) -> int:
    keys = KeyStore.open(settings.resolved_keys_dir)

    async def work(store: Db) -> dict[str, int]:
        origin = await install_origin(store, settings)
        return await export(store, out, origin, log_verifier(keys, origin).vkey())

    counts = asyncio.run(with_db(settings, work))
    print(f"Exported {counts['entries']} audit entries and {counts['checkpoints']} signed checkpoints to {out}.")
    print(f"Keep {out / 'checkpoint'} and {out / 'log.vkey'} somewhere the server cannot reach: "
          "'clinphoto audit verify --trusted' checks later logs against them.")
    return 0


def _verifiers(trusted: Path, keys: Sequence[str]) -> list[Verifier]:
    texts = [Path(k).read_text() if Path(k).is_file() else k for k in keys]
    if not texts:
        for candidate in (trusted.with_name(trusted.name + ".vkey"), trusted.parent / "log.vkey"):
            if candidate.is_file():
                texts = [candidate.read_text()]
                break
    if not texts:
        raise CheckpointError(f"no verifier key: pass --key, or keep it in {trusted.name}.vkey beside the checkpoint")
    return [parse_vkey(line) for text in texts for line in text.splitlines() if line.strip()]


def verify_export(directory: Path, trusted: Path, keys: Sequence[str]) -> Report:
    try:
        verifiers = _verifiers(trusted, keys)
    except (CheckpointError, OSError) as exc:
        return Report(False, problem=str(exc))
    entries, notes, summary = load_export(directory)
    return verify_log(entries, trusted.read_text(), verifiers, notes, summary)


def run_verify(settings: Settings, trusted: Path | None, export_dir: Path | None, keys: Sequence[str]) -> int:
    if trusted is None:
        chain = asyncio.run(with_db(settings, verify_chain))
        if chain.ok:
            print(f"Audit chain verified: {chain.entries} entries, unbroken.")
            return 0
        print(f"Audit chain BROKEN at entry {chain.first_bad_seq}: {chain.problem} "
              f"({chain.entries} entries verified before it).")
        return 1
    if export_dir is not None:
        report = verify_export(export_dir, trusted, keys)
    else:  # the live database, read through the same export so one verifier sees one format
        with tempfile.TemporaryDirectory(prefix="clinphoto-audit-") as tmp:
            async def work(store: Db) -> Any:
                return await export(store, Path(tmp), await install_origin(store, settings), "")

            asyncio.run(with_db(settings, work))
            report = verify_export(Path(tmp), trusted, keys)
            if report.ok:
                head = asyncio.run(with_db(settings, lambda store: store.fetch_one(
                    "SELECT seq FROM audit_head WHERE id = 1")))
                if (int(head["seq"]) if head is not None else 0) != report.size:
                    report = Report(False, report.entries, report.size, report.size + 1,
                                    "entries after the last one found were removed")
    for warning in report.warnings:
        print(f"note: {warning}")
    if report.ok:
        print(f"Audit log verified against your checkpoint (size {report.trusted_size}): {report.entries} "
              f"entries, tree recomputed from them, consistent up to the latest signed checkpoint "
              f"(size {report.latest_size}).")
        return 0
    where = f" at entry {report.first_bad_seq}" if report.first_bad_seq else ""
    print(f"Audit log BROKEN{where}: {report.problem}")
    return 1
