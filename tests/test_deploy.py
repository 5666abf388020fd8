"""The deployment files in deploy/ hold: the systemd unit parses, the settings file names only
documented settings, and the guide is linked from the README. (deploy/nginx.conf runs in a real
nginx in pwa/e2e/https.e2e.ts.)"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from sync_server.settings import Settings
from tests.support.server import REPO

DEPLOY = REPO / "deploy"


def test_the_settings_file_names_only_documented_settings():
    names = set(re.findall(r"^(CLINPHOTO_[A-Z0-9_]+)=", (DEPLOY / "clinphoto.env").read_text(), re.M))
    assert {"CLINPHOTO_PUBLIC_URL", "CLINPHOTO_DATABASE_URL", "CLINPHOTO_KEYS_DIR", "CLINPHOTO_DATA_DIR",
            "CLINPHOTO_FORWARDED_ALLOW_IPS"} <= names
    readme = (REPO / "README.md").read_text()
    assert [n for n in sorted(names) if f"| `{n}` |" not in readme] == []
    fields = {f"CLINPHOTO_{name.upper()}" for name in Settings.__dataclass_fields__}
    assert names <= fields


def test_the_unit_runs_clinphoto_serve_as_its_own_user_with_hardening():
    unit = (DEPLOY / "clinphoto.service").read_text()
    for line in ("User=clinphoto", "EnvironmentFile=/etc/clinphoto/clinphoto.env", "NoNewPrivileges=yes",
                 "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "UMask=0027",
                 "ReadWritePaths=/var/lib/clinphoto /var/lib/clinphoto-keys"):
        assert line in unit.splitlines()
    assert re.search(r"^ExecStart=\S+/clinphoto serve$", unit, re.M)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_unit_passes_systemd_analyze_verify(tmp_path: Path):
    unit = (DEPLOY / "clinphoto.service").read_text()
    here = re.sub(r"^ExecStart=\S+", f"ExecStart={REPO / '.venv/bin/clinphoto'}", unit, flags=re.M)
    (tmp_path / "clinphoto.service").write_text(here)
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", str(tmp_path / "clinphoto.service")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "clinphoto.service" not in done.stderr, done.stderr


def test_the_readme_links_the_deployment_guide():
    assert "(docs/deploy.md)" in (REPO / "README.md").read_text()
