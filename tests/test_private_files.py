"""The data folder, database and uploads are private to the server's account; its keys must be.

Run against the real ``clinphoto serve`` process, started from a shell whose umask is the usual 022.
"""
from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.client import SyncClient
from tests.support.server import CLINPHOTO, REPO, ServerProcess
from tests.test_devices_and_keys import _sync_one


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _loose_umask() -> None:
    os.umask(0o022)  # what a shell usually gives; the server must not depend on it


def start(server: ServerProcess) -> None:
    previous = os.umask(0o022)
    try:
        server.start()
    finally:
        os.umask(previous)


def private_everywhere(data: Path) -> None:
    assert mode(data) == 0o700
    for name in ("clinphoto.db", "clinphoto.db-wal", "clinphoto.db-shm"):
        assert (data / name).exists(), name
        assert mode(data / name) == 0o600, (name, oct(mode(data / name)))
    for folder in ("uploads", "objects", "keys"):
        assert mode(data / folder) == 0o700, (folder, oct(mode(data / folder)))
    for path in (data / "objects").rglob("*"):
        assert mode(path) == (0o700 if path.is_dir() else 0o600), (path, oct(mode(path)))
    for path in (data / "keys").iterdir():
        assert mode(path) == 0o600, (path, oct(mode(path)))


def test_a_first_start_makes_the_data_folder_database_and_uploads_private(tmp_path):
    server = ServerProcess(tmp_path / "data")
    start(server)
    try:
        client = SyncClient(httpx.Client(base_url=server.url))
        assert client.enroll(server.enrollment_code()).status_code == 201
        _sync_one(client)
        private_everywhere(server.data_dir)
    finally:
        server.stop()


def test_a_start_makes_existing_loose_data_private_again(tmp_path):
    server = ServerProcess(tmp_path / "data")
    start(server)
    client = SyncClient(httpx.Client(base_url=server.url))
    assert client.enroll(server.enrollment_code()).status_code == 201
    _sync_one(client)
    server.stop()
    data = server.data_dir
    loose = [data, data / "uploads", data / "objects", *[p for p in (data / "objects").rglob("*") if p.is_dir()]]
    for path in loose:
        path.chmod(0o755)
    for path in data.glob("clinphoto.db*"):
        path.chmod(0o644)
    start(server)
    try:
        _sync_one(client)
        private_everywhere(data)
    finally:
        server.stop()


def refused_start(server: ServerProcess) -> str:
    done = subprocess.run([*CLINPHOTO, "serve"], env=server.env, cwd=REPO, capture_output=True, text=True,
                          timeout=60, preexec_fn=_loose_umask)
    assert done.returncode != 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.mark.parametrize("loose", [0o644, 0o620])
def test_the_server_refuses_to_start_with_a_private_key_open_to_others_and_says_how_to_fix_it(tmp_path, loose):
    server = ServerProcess(tmp_path / "data")
    start(server)
    server.stop()
    key = next((server.data_dir / "keys").glob("seal-*.pem"))
    key.chmod(loose)
    said = refused_start(server)
    assert str(key) in said and f"chmod 600 {key}" in said, said
    assert "Traceback" not in said
    key.chmod(0o600)
    start(server)  # fixed as told: it starts
    server.stop()


@pytest.mark.parametrize("loose", [0o777, 0o701])
def test_the_server_refuses_to_start_with_its_key_folder_open_to_others(tmp_path, loose):
    keys = tmp_path / "keys-volume"
    server = ServerProcess(tmp_path / "data", CLINPHOTO_KEYS_DIR=str(keys))
    start(server)
    server.stop()
    keys.chmod(loose)
    said = refused_start(server)
    assert str(keys) in said and f"chmod 700 {keys}" in said, said
    assert "Traceback" not in said
    keys.chmod(0o700)
    start(server)
    server.stop()
