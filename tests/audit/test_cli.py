"""``clinphoto audit export`` and ``clinphoto audit verify --trusted``, as an officer runs them."""
from __future__ import annotations

import shutil
import sqlite3
import subprocess

from tests.support.server import CLINPHOTO, REPO, ServerProcess


def test_export_then_verify_against_the_saved_checkpoint_and_catch_an_edit(tmp_path):
    server = ServerProcess(tmp_path / "data")
    for label in ("a", "b", "c"):
        server.cli("enroll-device", "--label", label)
    first = server.cli("audit", "export", "--out", str(tmp_path / "first"))
    assert "Exported 3 audit entries" in first
    saved = tmp_path / "officer"
    saved.mkdir()
    # no checkpoint yet (the server never ran): start it once so it signs one, as in production
    server.start()
    server.stop()
    server.cli("audit", "export", "--out", str(tmp_path / "second"))
    shutil.copy(tmp_path / "second" / "checkpoint", saved / "checkpoint")
    shutil.copy(tmp_path / "second" / "log.vkey", saved / "checkpoint.vkey")
    server.cli("enroll-device", "--label", "d")

    out = server.cli("audit", "verify", "--trusted", str(saved / "checkpoint"))
    assert out.rstrip().splitlines()[-1].startswith("Audit log verified against your checkpoint (size ")
    assert "unbroken" in server.cli("audit", "verify")  # the chain-only check still works without flags
    server.cli("audit", "export", "--out", str(tmp_path / "third"))
    assert "verified" in server.cli("audit", "verify", "--trusted", str(saved / "checkpoint"),
                                    "--export", str(tmp_path / "third"))

    with sqlite3.connect(tmp_path / "data" / "clinphoto.db") as db:
        db.execute("UPDATE audit_entry SET actor = 'cli:someone-else' WHERE seq = 2")
    done = subprocess.run([*CLINPHOTO, "audit", "verify", "--trusted", str(saved / "checkpoint")],
                          env=server.env, cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 1 and "BROKEN at entry 2" in done.stdout
