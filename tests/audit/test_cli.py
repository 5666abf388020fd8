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


def _cli_without_port(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in server.env.items() if k not in ("CLINPHOTO_PORT", "CLINPHOTO_PUBLIC_URL")}
    return subprocess.run([*CLINPHOTO, *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=60)


def test_the_audit_commands_take_the_log_origin_and_key_from_the_install_not_from_the_port_setting(tmp_path):
    server = ServerProcess(tmp_path / "data")  # a port other than the default 8000
    server.start()
    server.stop()
    exported = _cli_without_port(server, "audit", "export", "--out", str(tmp_path / "export"))
    assert exported.returncode == 0, exported.stderr
    vkey = (tmp_path / "export" / "log.vkey").read_text()
    checkpoint = (tmp_path / "export" / "checkpoint").read_text()
    origin = f"127.0.0.1:{server.port}/clinphoto-audit"
    assert vkey.startswith(origin + "+") and checkpoint.startswith(origin + "\n"), (vkey, checkpoint)
    saved = tmp_path / "officer"
    saved.mkdir()
    shutil.copy(tmp_path / "export" / "checkpoint", saved / "checkpoint")
    shutil.copy(tmp_path / "export" / "log.vkey", saved / "checkpoint.vkey")
    server.cli("enroll-device", "--label", "after")
    verified = _cli_without_port(server, "audit", "verify", "--trusted", str(saved / "checkpoint"))
    assert verified.returncode == 0 and "Audit log verified" in verified.stdout, verified.stdout + verified.stderr
    # and with another port setting still (the server moved): the install's name for its log holds
    moved = subprocess.run([*CLINPHOTO, "audit", "verify", "--trusted", str(saved / "checkpoint")],
                           env={**server.env, "CLINPHOTO_PORT": "9443"}, cwd=REPO, capture_output=True, text=True)
    assert moved.returncode == 0, moved.stdout + moved.stderr
