"""C2SP checkpoints in C2SP signed notes: what verifies, what is refused."""
from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync_server.audit.checkpoint import (Checkpoint, CheckpointError, check_not_older, open_checkpoint,
                                          parse_vkey, sign_note, verifier)

ORIGIN = "clinphoto.example/audit"
KEY = Ed25519PrivateKey.generate()
VERIFIER = verifier(ORIGIN, KEY.public_key())


def _note(size: int = 7, root: bytes = b"\x11" * 32, key: Ed25519PrivateKey = KEY, name: str = ORIGIN) -> str:
    return sign_note(Checkpoint(ORIGIN, size, root).text(), name, key)


def test_a_checkpoint_is_three_lines_then_a_signature_line_by_the_origin():
    lines = _note().split("\n")
    assert lines[:3] == [ORIGIN, "7", base64.b64encode(b"\x11" * 32).decode()]
    assert lines[3] == "" and lines[4].startswith("\u2014 " + ORIGIN + " ")
    blob = base64.b64decode(lines[4].rsplit(" ", 1)[1])
    assert len(blob) == 68 and blob[:4] == VERIFIER.key_hash


def test_a_signed_checkpoint_opens_with_its_verifier_key_text():
    assert open_checkpoint(_note(), [parse_vkey(VERIFIER.vkey())]) == Checkpoint(ORIGIN, 7, b"\x11" * 32)


def test_an_edited_size_or_root_is_caught_as_forged():
    note = _note()
    for forged in (note.replace("\n7\n", "\n8\n", 1), note.replace(base64.b64encode(b"\x11" * 32).decode(),
                                                                   base64.b64encode(b"\x12" * 32).decode())):
        with pytest.raises(CheckpointError, match="forged"):
            open_checkpoint(forged, [VERIFIER])


def test_a_checkpoint_signed_by_another_key_is_refused():
    with pytest.raises(CheckpointError, match="no signature by a trusted key"):
        open_checkpoint(_note(key=Ed25519PrivateKey.generate()), [VERIFIER])


def test_a_verifier_key_whose_hash_does_not_match_is_refused():
    name, _, key = VERIFIER.vkey().split("+", 2)
    with pytest.raises(CheckpointError):
        parse_vkey(f"{name}+00000000+{key}")


def test_an_older_checkpoint_served_as_latest_is_a_replay():
    trusted = Checkpoint(ORIGIN, 10, b"\x01" * 32)
    with pytest.raises(CheckpointError, match="replayed"):
        check_not_older(trusted, Checkpoint(ORIGIN, 9, b"\x02" * 32))
    with pytest.raises(CheckpointError, match="forked"):
        check_not_older(trusted, Checkpoint(ORIGIN, 10, b"\x02" * 32))
    check_not_older(trusted, Checkpoint(ORIGIN, 11, b"\x02" * 32))
