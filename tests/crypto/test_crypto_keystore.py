import json
import multiprocessing
import multiprocessing.synchronize
import os
import stat
from pathlib import Path

import pytest

from crypto import (
    CryptoError,
    KeyStore,
    decrypt_at_rest,
    encrypt_at_rest,
    key_id,
    open_photo,
    parse_seal_header,
    public_key_from_jwk,
    seal_photo,
    sign_document,
    verify_document,
)

PHOTO = "0b7f6a1e-3c2d-4e5f-8a9b-0c1d2e3f4a5b"
SEQUENCE = "5d4c3b2a-1f0e-4d9c-8b7a-695847362514"


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_keystore_creates_a_0700_directory_of_0600_files(tmp_path):
    directory = tmp_path / "keys"
    store = KeyStore.open(directory)
    assert _mode(directory) == 0o700
    names = sorted(p.name for p in directory.iterdir())
    assert names == sorted(
        ["keyring.json", f"seal-{store.seal_key_id}.pem", f"sign-{store.sign_key_id}.pem", f"{store.kek_id}.key"]
    )
    assert all(_mode(p) == 0o600 for p in directory.iterdir())
    assert store.kek_id.startswith("kek-") and len(store.kek_id) == 12 and len(store.kek) == 32


def test_keystore_reopens_identically(tmp_path):
    first = KeyStore.open(tmp_path)
    second = KeyStore.open(tmp_path)
    assert (first.seal_key_id, first.sign_key_id, first.kek_id, first.kek) == (
        second.seal_key_id,
        second.sign_key_id,
        second.kek_id,
        second.kek,
    )
    assert first.jwks() == second.jwks()


def test_keystore_key_ids_are_thumbprints(tmp_path):
    store = KeyStore.open(tmp_path)
    assert key_id(store.seal_public_key) == store.seal_key_id
    assert key_id(store.sign_private_key.public_key()) == store.sign_key_id


def test_kek_rotation_keeps_old_objects_readable(tmp_path):
    store = KeyStore.open(tmp_path)
    old_id = store.kek_id
    blob = encrypt_at_rest(b"photo", kek_id=store.kek_id, kek=store.kek, object_id="o")
    new_id = store.rotate_kek()
    assert new_id != old_id and store.kek_id == new_id
    reopened = KeyStore.open(tmp_path)
    assert reopened.kek_id == new_id and set(reopened.keks) == {old_id, new_id}
    assert decrypt_at_rest(blob, reopened.keks, object_id="o") == b"photo"


def test_seal_key_rotation_keeps_old_seals_openable(tmp_path):
    store = KeyStore.open(tmp_path)
    blob = seal_photo(b"photo", store.seal_public_key, store.seal_key_id, PHOTO, SEQUENCE)
    store.rotate_seal_key()
    reopened = KeyStore.open(tmp_path)
    assert reopened.seal_key_id != parse_seal_header(blob).key_id
    sha = parse_seal_header(blob).plaintext_sha256
    assert open_photo(blob, reopened.seal_private_keys, photo_id=PHOTO, sequence_id=SEQUENCE, plaintext_sha256=sha) == b"photo"


def test_sign_key_rotation_keeps_old_receipts_verifiable_and_published(tmp_path):
    store = KeyStore.open(tmp_path)
    old_kid = store.sign_key_id
    receipt = sign_document({"batch": 1}, store.sign_private_key, store.sign_key_id)
    store.rotate_sign_key()
    reopened = KeyStore.open(tmp_path)
    verify_document({"batch": 1}, receipt, reopened.sign_public_keys)
    jwks = reopened.jwks()["keys"]
    assert [k["use"] for k in jwks] == ["enc", "sig", "sig"]
    assert jwks[0]["kid"] == reopened.seal_key_id and jwks[1]["kid"] == reopened.sign_key_id
    assert jwks[2]["kid"] == old_kid
    assert all(public_key_from_jwk(k) for k in jwks)
    assert not any("d" in k for k in jwks)


def test_a_key_file_swapped_under_another_name_is_refused(tmp_path):
    store = KeyStore.open(tmp_path)
    old = store.seal_key_id
    new = store.rotate_seal_key()
    a, b = tmp_path / f"seal-{old}.pem", tmp_path / f"seal-{new}.pem"
    data_a, data_b = a.read_bytes(), b.read_bytes()
    a.write_bytes(data_b)
    b.write_bytes(data_a)
    with pytest.raises(CryptoError) as info:
        KeyStore.open(tmp_path)
    assert info.value.reason == "bad_key"


def test_a_missing_key_file_is_refused(tmp_path):
    store = KeyStore.open(tmp_path)
    (tmp_path / f"{store.kek_id}.key").unlink()
    with pytest.raises(CryptoError) as info:
        KeyStore.open(tmp_path)
    assert info.value.reason == "bad_key"


def test_keyring_lists_every_generation_and_the_current_one(tmp_path):
    store = KeyStore.open(tmp_path)
    store.rotate_kek()
    ring = json.loads((tmp_path / "keyring.json").read_text())
    assert ring["kek"]["current"] == store.kek_id and len(ring["kek"]["keys"]) == 2
    assert not list(tmp_path.glob(".*.tmp"))


def _open_and_report(directory: str, start: "multiprocessing.synchronize.Barrier", out: "multiprocessing.Queue[str]") -> None:
    start.wait()
    try:
        store = KeyStore.open(Path(directory))
    except Exception as exc:  # reported, not left to a timeout
        out.put(f"failed: {exc!r}")
        return
    out.put(f"{store.kek_id} {store.seal_key_id} {store.sign_key_id}")


def test_servers_starting_at_once_on_an_empty_folder_make_one_set_of_keys(tmp_path):
    """Three server processes of a ward started together (after a power cut): one makes the keys, the
    others load them; none seals with keys the others do not have."""
    context = multiprocessing.get_context("spawn")
    start, out = context.Barrier(4), context.Queue()
    workers = [context.Process(target=_open_and_report, args=(str(tmp_path / "keys"), start, out)) for _ in range(4)]
    for worker in workers:
        worker.start()
    seen = [out.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(30)
    assert len(set(seen)) == 1, seen
    assert json.loads((tmp_path / "keys" / "keyring.json").read_text())["kek"]["keys"] == [seen[0].split()[0]]
