"""The server's own keys, on its disk, apart from the data and never in the repo.

Generated at first start: one P-256 sealing key (phones seal photos to it),
one Ed25519 signing key (receipts, checkpoints) and one 32-byte KEK (at-rest
envelopes). Rotation adds a generation and makes it current; older ones stay
so that old seals open, old objects decrypt and old receipts verify.

Layout (directory 0700, every file 0600, each written atomically)::

    keyring.json            ids of every generation and which one is current
    seal-<kid>.pem          PKCS#8 P-256 private key, kid = RFC 7638 thumbprint
    sign-<kid>.pem          PKCS#8 Ed25519 private key
    kek-<8 hex>.key         32 raw bytes

keyring.json is written last, so a crash during creation or rotation leaves
either the old keyring or the new one, never a keyring naming a missing file.
A first start of several processes at once makes one set of keys. A running server keeps the
keys it loaded at start: after a rotation, restart every server process of the install.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import tempfile
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from crypto.envelope import KEK_LEN
from crypto.errors import CryptoError
from crypto.keys import key_id, public_jwk

KEYRING = "keyring.json"
_FORMAT = 1


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` as 0600, atomically and durably (temp, fsync, rename, fsync dir)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)  # mkstemp already uses 0600; state it, umask cannot widen it
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


def _pem(private_key: ec.EllipticCurvePrivateKey | Ed25519PrivateKey) -> bytes:
    return private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


class KeyStore:
    """All key generations in one directory; see the module docstring for the layout."""

    def __init__(
        self,
        directory: Path,
        seal_keys: dict[str, ec.EllipticCurvePrivateKey],
        sign_keys: dict[str, Ed25519PrivateKey],
        keks: dict[str, bytes],
        current: dict[str, str],
    ) -> None:
        # Use KeyStore.open(); this constructor only assembles loaded state.
        self._directory = directory
        self._seal = seal_keys
        self._sign = sign_keys
        self._keks = keks
        self._current = current

    # -- opening -----------------------------------------------------------------

    @classmethod
    def open(cls, directory: Path) -> KeyStore:
        """Load the keys in ``directory``, creating it (0700) and a first generation if absent."""
        directory = Path(directory)
        if not directory.is_dir():
            try:
                directory.mkdir(mode=0o700, parents=True)
            except FileExistsError:
                pass  # another process starting at the same time made it
            _fsync_dir(directory.parent)  # the folder's own name must survive a power cut too
        if (directory / KEYRING).exists():
            return cls._load(directory)
        # several server processes may start at once on an empty folder: one makes the keys, the
        # others wait for it and load them (an exclusive lock on the folder itself: no file added)
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if (directory / KEYRING).exists():
                return cls._load(directory)
            store = cls(directory, {}, {}, {}, {})
            store._add_seal_key()
            store._add_sign_key()
            store._add_kek()
            store._write_keyring()
            return store
        finally:
            os.close(fd)

    @classmethod
    def _load(cls, directory: Path) -> KeyStore:
        try:
            ring = json.loads((directory / KEYRING).read_text("utf-8"))
            if ring.get("format") != _FORMAT:
                raise CryptoError("bad_key", "unsupported keyring format")
            seal = {kid: cls._load_pem(directory / f"seal-{kid}.pem", kid) for kid in ring["seal"]["keys"]}
            sign = {kid: cls._load_pem(directory / f"sign-{kid}.pem", kid) for kid in ring["sign"]["keys"]}
            keks = {kid: cls._load_kek(directory / f"{kid}.key") for kid in ring["kek"]["keys"]}
            current = {kind: ring[kind]["current"] for kind in ("seal", "sign", "kek")}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CryptoError("bad_key", f"cannot load key store: {type(exc).__name__}") from exc
        for kind, keys in (("seal", seal), ("sign", sign), ("kek", keks)):
            if current[kind] not in keys:
                raise CryptoError("bad_key", f"current {kind} key is not in the keyring")
        if not all(isinstance(k, ec.EllipticCurvePrivateKey) for k in seal.values()):
            raise CryptoError("bad_key", "a seal key file is not a P-256 key")
        if not all(isinstance(k, Ed25519PrivateKey) for k in sign.values()):
            raise CryptoError("bad_key", "a sign key file is not an Ed25519 key")
        return cls(directory, seal, sign, keks, current)  # type: ignore[arg-type]

    @staticmethod
    def _load_pem(path: Path, expected_kid: str) -> ec.EllipticCurvePrivateKey | Ed25519PrivateKey:
        key = load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, (ec.EllipticCurvePrivateKey, Ed25519PrivateKey)):
            raise CryptoError("bad_key", f"{path.name} holds an unsupported key type")
        # The id is a hash of the public key: a file swapped under another name is caught here.
        if key_id(key.public_key()) != expected_kid:
            raise CryptoError("bad_key", f"{path.name} does not hold key {expected_kid}")
        return key

    @staticmethod
    def _load_kek(path: Path) -> bytes:
        data = path.read_bytes()
        if len(data) != KEK_LEN:
            raise CryptoError("bad_key", f"{path.name} is not a 32-byte KEK")
        return data

    # -- writing -----------------------------------------------------------------

    def _add_seal_key(self) -> str:
        private_key = ec.generate_private_key(ec.SECP256R1())
        kid = key_id(private_key.public_key())
        write_private_file(self._directory / f"seal-{kid}.pem", _pem(private_key))
        self._seal[kid] = private_key
        self._current["seal"] = kid
        return kid

    def _add_sign_key(self) -> str:
        private_key = Ed25519PrivateKey.generate()
        kid = key_id(private_key.public_key())
        write_private_file(self._directory / f"sign-{kid}.pem", _pem(private_key))
        self._sign[kid] = private_key
        self._current["sign"] = kid
        return kid

    def _add_kek(self) -> str:
        kid = f"kek-{secrets.token_hex(4)}"
        while kid in self._keks:
            kid = f"kek-{secrets.token_hex(4)}"
        kek = secrets.token_bytes(KEK_LEN)
        write_private_file(self._directory / f"{kid}.key", kek)
        self._keks[kid] = kek
        self._current["kek"] = kid
        return kid

    def _write_keyring(self) -> None:
        ring = {
            "format": _FORMAT,
            "seal": {"current": self._current["seal"], "keys": list(self._seal)},
            "sign": {"current": self._current["sign"], "keys": list(self._sign)},
            "kek": {"current": self._current["kek"], "keys": list(self._keks)},
        }
        write_private_file(self._directory / KEYRING, json.dumps(ring, indent=2).encode() + b"\n")

    def rotate_kek(self) -> str:
        """New current KEK; objects on older KEKs still decrypt until re-wrapped."""
        kid = self._add_kek()
        self._write_keyring()
        return kid

    def rotate_seal_key(self) -> str:
        """New current sealing key; photos sealed to older keys still open."""
        kid = self._add_seal_key()
        self._write_keyring()
        return kid

    def rotate_sign_key(self) -> str:
        """New current signing key; older public keys stay published so old receipts verify."""
        kid = self._add_sign_key()
        self._write_keyring()
        return kid

    # -- reading -----------------------------------------------------------------

    @property
    def directory(self) -> Path:
        return self._directory

    @property
    def seal_key_id(self) -> str:
        return self._current["seal"]

    @property
    def seal_public_key(self) -> ec.EllipticCurvePublicKey:
        return self._seal[self.seal_key_id].public_key()

    @property
    def seal_private_keys(self) -> Mapping[str, ec.EllipticCurvePrivateKey]:
        return MappingProxyType(dict(self._seal))

    @property
    def sign_key_id(self) -> str:
        return self._current["sign"]

    @property
    def sign_private_key(self) -> Ed25519PrivateKey:
        return self._sign[self.sign_key_id]

    @property
    def sign_public_keys(self) -> Mapping[str, Ed25519PublicKey]:
        return MappingProxyType({kid: k.public_key() for kid, k in self._sign.items()})

    @property
    def kek_id(self) -> str:
        return self._current["kek"]

    @property
    def kek(self) -> bytes:
        return self._keks[self.kek_id]

    @property
    def keks(self) -> Mapping[str, bytes]:
        return MappingProxyType(dict(self._keks))

    def derive(self, label: str, length: int) -> bytes:
        """A key for one purpose, derived (HKDF-SHA256) from the install's first KEK with ``label``.

        It never changes, even when the KEK rotates: it is for values that must stay comparable
        for the life of the install (the keyed index of patient identifiers). It is never written.
        """
        first = self._keks[next(iter(self._keks))]
        return HKDF(algorithm=hashes.SHA256(), length=length, salt=b"clinphoto/derive/v1",
                    info=label.encode("utf-8")).derive(first)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """Public keys for ``GET /api/v1/keys``: the current sealing key (phones must seal
        to it and nothing older), the current signing key, then older signing keys."""
        keys = [
            public_jwk(self.seal_public_key, use="enc"),
            public_jwk(self.sign_private_key.public_key(), use="sig"),
        ]
        for kid, private_key in self._sign.items():
            if kid != self.sign_key_id:
                keys.append(public_jwk(private_key.public_key(), use="sig"))
        return {"keys": keys}
