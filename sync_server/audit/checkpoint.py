"""Checkpoints: C2SP tlog-checkpoint text inside a C2SP signed note, Ed25519. Pure: no I/O.

A checkpoint is three lines (https://c2sp.org/tlog-checkpoint)::

    <origin>
    <tree size, decimal>
    <root hash, standard base64>

A signed note (https://c2sp.org/signed-note) is the text, a blank line, then one line per
signature: ``— <key name> <base64(4-byte key hash || 64-byte Ed25519 signature)>``. The key hash
is ``SHA-256(key name || 0x0A || 0x01 || public key)[:4]`` and the signature covers the text
bytes, final newline included. The verifier key is written ``<name>+<hex key hash>+<base64(0x01 ||
public key)>``; the officer keeps it beside a checkpoint they trust, and checks every later one
against it, never against a key the server offers at that moment.
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .merkle import HASH_LEN

ED25519 = 0x01
_DASH = "\u2014 "


class CheckpointError(ValueError):
    """A checkpoint or note that is malformed, unsigned by a trusted key, forged or stale."""


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


@dataclasses.dataclass(frozen=True)
class Verifier:
    name: str
    key_hash: bytes
    public_key: Ed25519PublicKey

    def vkey(self) -> str:
        raw = self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return f"{self.name}+{self.key_hash.hex()}+{base64.b64encode(bytes([ED25519]) + raw).decode()}"


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name) or not name.isprintable():
        raise CheckpointError("a key name is non-empty, printable, without spaces or '+'")


def key_hash(name: str, public_key: Ed25519PublicKey) -> bytes:
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + raw).digest()[:4]


def verifier(name: str, public_key: Ed25519PublicKey) -> Verifier:
    _check_name(name)
    return Verifier(name, key_hash(name, public_key), public_key)


def parse_vkey(text: str) -> Verifier:
    try:
        name, hash_hex, key_b64 = text.strip().split("+", 2)
        raw = base64.b64decode(key_b64, validate=True)
        declared = bytes.fromhex(hash_hex)
    except (ValueError, binascii.Error):
        raise CheckpointError("a verifier key reads <name>+<8 hex digits>+<base64 key>") from None
    if len(declared) != 4 or len(raw) != 33 or raw[0] != ED25519:
        raise CheckpointError("only Ed25519 verifier keys (type 0x01, 32 bytes) are supported")
    result = verifier(name, Ed25519PublicKey.from_public_bytes(raw[1:]))
    if result.key_hash != declared:
        raise CheckpointError("the verifier key's hash does not match its name and key")
    return result


def parse_checkpoint(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise CheckpointError("a checkpoint is origin, size and root hash lines, each ending in a newline")
    origin, size_text, root_b64 = lines[0], lines[1], lines[2]
    if not origin or not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise CheckpointError("the checkpoint's origin or tree size is malformed")
    try:
        root = base64.b64decode(root_b64, validate=True)
    except binascii.Error:
        raise CheckpointError("the checkpoint's root hash is not base64") from None
    if len(root) != HASH_LEN or base64.b64encode(root).decode() != root_b64:
        raise CheckpointError("the checkpoint's root hash is not 32 bytes in canonical base64")
    return Checkpoint(origin, int(size_text), root)


def sign_note(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    if not text.endswith("\n") or "\n\n" in text:
        raise CheckpointError("note text ends with one newline and has no blank line")
    ident = verifier(name, private_key.public_key())
    sig = private_key.sign(text.encode())
    return f"{text}\n{_DASH}{name} {base64.b64encode(ident.key_hash + sig).decode()}\n"


def open_note(note: str, verifiers: list[Verifier]) -> str:
    """Return the text of ``note`` if one of ``verifiers`` signed it; raise otherwise."""
    text, sep, sigs = note.rpartition("\n\n")
    if not sep or not sigs.endswith("\n"):
        raise CheckpointError("a signed note is text, a blank line and signature lines")
    text += "\n"
    for line in sigs[:-1].split("\n"):
        if not line.startswith(_DASH):
            raise CheckpointError("a signature line starts with an em dash and a space")
        name, _, b64 = line[len(_DASH):].rpartition(" ")
        try:
            blob = base64.b64decode(b64, validate=True)
        except binascii.Error:
            raise CheckpointError("a signature is not base64") from None
        for v in verifiers:
            if v.name == name and len(blob) == 68 and blob[:4] == v.key_hash:
                try:
                    v.public_key.verify(blob[4:], text.encode())
                except InvalidSignature:
                    raise CheckpointError(f"the signature by {name} does not match the checkpoint: forged") from None
                return text
    raise CheckpointError("the note carries no signature by a trusted key")


def open_checkpoint(note: str, verifiers: list[Verifier]) -> Checkpoint:
    """The checkpoint in ``note``, once signed by a trusted key whose name is its origin."""
    checkpoint = parse_checkpoint(open_note(note, verifiers))
    if checkpoint.origin not in {v.name for v in verifiers}:
        raise CheckpointError(f"the checkpoint is for log {checkpoint.origin!r}, not a log you trust")
    return checkpoint


def check_not_older(trusted: Checkpoint, latest: Checkpoint) -> None:
    """A server whose latest checkpoint is older than one already seen is replaying or rolling back."""
    if latest.origin != trusted.origin:
        raise CheckpointError("the checkpoints are from different logs")
    if latest.size < trusted.size:
        raise CheckpointError(
            f"the latest checkpoint (size {latest.size}) is older than your trusted one (size "
            f"{trusted.size}): an old checkpoint is being replayed, or the log was rolled back")
    if latest.size == trusted.size and latest.root != trusted.root:
        raise CheckpointError("two different roots for the same tree size: the log forked")
