"""`make test` gets its own Debian packages (scripts/test-deps.sh): installs them as root, otherwise
stops at once with the exact command; does nothing (and no apt-get update) when all are there.

A recording ``apt-get`` on PATH stands in for the real one, which would change this machine.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.support.server import REPO

SCRIPT = REPO / "scripts" / "test-deps.sh"
TOOLS = ("node", "npm", "python3", "dciodvfy", "openssl", "fusermount3", "Orthanc", "id", "cat")
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"  # the system's tools, not this venv's


def _path_without_chromium(tmp_path: Path) -> Path:
    """A PATH holding the tools the script looks for, except Chromium, and a recording apt-get."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    bin_dir.chmod(0o755)  # whatever umask an earlier in-process `clinphoto` command left (it sets 077)
    for tool in TOOLS:
        found = shutil.which(tool, path=SYSTEM_PATH)
        if found is None:
            pytest.fail(f"{tool} is needed by this test (make deps installs it)")
        (bin_dir / tool).symlink_to(found)
    apt = bin_dir / "apt-get"
    apt.write_text(f'#!/bin/bash\necho "$*" >> {tmp_path / "apt.log"}\n')
    apt.chmod(0o755)
    return bin_dir


def _run(tmp_path: Path, bin_dir: Path, *prefix: str, script: Path = SCRIPT) -> subprocess.CompletedProcess[str]:
    env = {"PATH": str(bin_dir), "CLINPHOTO_CHROMIUM": str(tmp_path / "no-chromium"), "HOME": str(tmp_path)}
    return subprocess.run([*prefix, "/bin/bash", str(script)], env=env, capture_output=True, text=True, timeout=60)


def test_when_everything_is_there_it_returns_at_once_without_apt(tmp_path):
    started = time.monotonic()
    done = subprocess.run(["/bin/bash", str(SCRIPT)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PATH": f"{_path_without_chromium(tmp_path)}:{os.environ['PATH']}"})
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 5
    assert not (tmp_path / "apt.log").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="installing is what root does; the refusal is tested as nobody")
def test_as_root_it_updates_then_installs_what_is_missing(tmp_path):
    done = _run(tmp_path, _path_without_chromium(tmp_path))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "apt.log").read_text().splitlines() == [
        "update -qq", "install -y -qq --no-install-recommends chromium"]


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root to become nobody")
def test_as_another_user_it_stops_at_once_with_the_exact_command():
    tmp_path = Path(tempfile.mkdtemp(prefix="clinphoto-deps-"))  # one that nobody can enter
    tmp_path.chmod(0o755)
    bin_dir = _path_without_chromium(tmp_path)
    # a copy the other user can read wherever the checkout lies (a CI clone may sit in a 0700 folder)
    script = tmp_path / "test-deps.sh"
    shutil.copy(SCRIPT, script)
    script.chmod(0o755)
    done = _run(tmp_path, bin_dir, shutil.which("setpriv") or "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                script=script)
    assert done.returncode == 1
    assert "sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends " \
           "chromium" in done.stderr
    assert not (tmp_path / "apt.log").exists()
    shutil.rmtree(tmp_path)
