"""What the first start writes (keys, database, folders) survives a power cut right after it."""
from __future__ import annotations

import os
from pathlib import Path

import httpx

from sync_server.auth.sessions import KEYS_FILE, load_keys
from sync_server.storage.files import make_dir_durably
from tests.powerloss.lazyfs import LazyFS
from tests.support.server import ServerProcess


def _key_files(keys: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(keys.iterdir())}


def test_keys_database_and_enrolment_codes_survive_a_cut_right_after_the_first_start(tmp_path: Path):
    with LazyFS(tmp_path / "backing", tmp_path / "mnt") as fs:
        server = ServerProcess(fs.mountpoint / "data", CLINPHOTO_STORAGE_LOW_SPACE_BYTES="0")
        server.log = tmp_path / "server.log"
        server.start()
        code = server.enrollment_code()
        keys = server.data_dir / "keys"
        before = _key_files(keys)
        seal_key = httpx.get(server.url + "/api/v1/keys").json()
        server.kill()
        fs.cut()
        assert _key_files(keys) == before  # not regenerated: photos sealed to them still open
        for folder in ("objects", "uploads"):
            assert (server.data_dir / folder).is_dir()
        server.start()
        assert httpx.get(server.url + "/api/v1/keys").json() == seal_key
        enrolled = httpx.post(server.url + "/api/v1/devices/enroll", json={"code": code, "label": "phone"})
        assert enrolled.status_code == 201, enrolled.text
        server.stop()


def test_session_keys_and_new_folders_are_durable_once_written(tmp_path: Path):
    with LazyFS(tmp_path / "backing", tmp_path / "mnt") as fs:
        keys = fs.mountpoint / "a" / "b" / "keys"
        make_dir_durably(keys)
        first = load_keys(keys)
        fs.cut()
        assert (keys / KEYS_FILE).exists()
        assert load_keys(keys) == first
        assert oct(os.stat(keys / KEYS_FILE).st_mode & 0o777) == "0o600"
