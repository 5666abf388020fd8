"""The server's TLS certificate: a ward CA generated on first start, or the hospital's files.

The ward CA (``<data_dir>/tls/ca.crt``, public; its key ``ward-ca.key`` in the keys folder, 0600)
signs a server certificate for the public host name only: the CA carries a name constraint, so a
phone that trusts it trusts it for that name and nothing else. The server certificate lives
``SERVER_DAYS`` days and is reissued when fewer than ``RENEW_BEFORE`` remain; :meth:`Certificates.refresh`
loads the new one into the same ``SSLContext``, so new connections get it without a restart.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from crypto.keystore import write_private_file

from ..clock import utc_now

log = logging.getLogger("clinphoto.tls")

CA_DAYS = 3650
SERVER_DAYS = 397  # the longest browsers accept for a server certificate
RENEW_BEFORE = dt.timedelta(days=30)
# TLS 1.2 suites: forward secrecy (ECDHE) and AEAD only. TLS 1.3 suites are all AEAD already.
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"

Clock = Callable[[], dt.datetime]


class TlsError(Exception):
    """The certificate files cannot be used; the message says which and why."""


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER certificate as phones show it: ``AB:CD:...``."""
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def server_context() -> ssl.SSLContext:
    """TLS 1.2 minimum, ECDHE + AEAD suites, no compression, no renegotiation."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_NO_RENEGOTIATION
    context.set_alpn_protocols(["http/1.1"])
    return context


def _write_public(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private_file(path, data)
    os.chmod(path, 0o644)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _not_after(cert: x509.Certificate) -> dt.datetime:
    return cert.not_valid_after_utc


def _names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [name.lower() for name in san.get_values_for_type(x509.DNSName)]


def _permits(ca: x509.Certificate, host: str) -> bool:
    try:
        constraints = ca.extensions.get_extension_for_class(x509.NameConstraints).value
    except x509.ExtensionNotFound:
        return True
    return any(isinstance(n, x509.DNSName) and n.value.lower() == host for n in constraints.permitted_subtrees or [])


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def make_ca(host: str, now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ClinPhoto"),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"ClinPhoto ward CA {host}"[:64])])
    public = key.public_key()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.NameConstraints(permitted_subtrees=[x509.DNSName(host)], excluded_subtrees=None),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def issue_server_cert(host: str, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, now: dt.datetime,
                      days: int = SERVER_DAYS) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host[:64])]))
            .issuer_name(ca.subject).public_key(public).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return cert, key


@dataclass(frozen=True)
class WardPaths:
    """Where the ward CA's files live: certificates with the data, keys with the other keys."""

    tls_dir: Path
    keys_dir: Path

    @property
    def ca_cert(self) -> Path:
        return self.tls_dir / "ca.crt"

    @property
    def server_cert(self) -> Path:
        return self.tls_dir / "server.crt"

    @property
    def ca_key(self) -> Path:
        return self.keys_dir / "ward-ca.key"

    @property
    def server_key(self) -> Path:
        return self.keys_dir / "tls-server.key"


class Certificates:
    """The certificate the listener presents, kept valid while the server runs."""

    def __init__(self, host: str, *, ward: WardPaths | None = None, cert_file: Path | None = None,
                 key_file: Path | None = None, clock: Clock = utc_now, renew_before: dt.timedelta = RENEW_BEFORE):
        if ward is None and (cert_file is None or key_file is None):
            raise TlsError("give both CLINPHOTO_TLS_CERT and CLINPHOTO_TLS_KEY, or neither (ward CA)")
        self.host = host.lower()
        self.ward = ward
        self.cert_file, self.key_file = cert_file, key_file
        self.clock = clock
        self.renew_before = renew_before
        self.context = server_context()
        self.ca: x509.Certificate | None = None
        self.server: x509.Certificate | None = None
        self._loaded_stamp: tuple[float, float] | None = None

    @property
    def ca_fingerprint(self) -> str | None:
        return fingerprint(self.ca) if self.ca is not None else None

    @property
    def ca_pem(self) -> bytes | None:
        return _pem(self.ca) if self.ca is not None else None

    def refresh(self) -> bool:
        """Make sure a valid certificate is loaded; ``True`` when a new one was put in place."""
        if self.ward is None:
            return self._load_hospital()
        try:
            return self._refresh_ward(self.ward)
        except (OSError, ValueError, ssl.SSLError) as exc:
            raise TlsError(f"cannot use the ward CA in {self.ward.tls_dir} and {self.ward.keys_dir}: {exc}. Restore "
                           "ward-ca.key from the keys backup, or move ca.crt and ward-ca.key aside to make a new CA "
                           "(phones must then install it again).") from None

    # hospital files -------------------------------------------------------------------------
    def _load_hospital(self) -> bool:
        assert self.cert_file is not None and self.key_file is not None
        try:
            stamp = (self.cert_file.stat().st_mtime, self.key_file.stat().st_mtime)
            if stamp == self._loaded_stamp:
                return False
            chain = self.cert_file.read_bytes()
            self.context.load_cert_chain(self.cert_file, self.key_file)
        except (OSError, ssl.SSLError) as exc:
            raise TlsError(f"cannot use CLINPHOTO_TLS_CERT={self.cert_file} with CLINPHOTO_TLS_KEY={self.key_file}: "
                           f"{exc}") from None
        self.server = x509.load_pem_x509_certificates(chain)[0]
        self._loaded_stamp = stamp
        if _not_after(self.server) <= self.clock():
            log.error("the hospital certificate %s expired on %s", self.cert_file, _not_after(self.server))
        elif self.host not in _names(self.server) and f"*.{self.host.partition('.')[2]}" not in _names(self.server):
            log.warning("the hospital certificate %s does not name %s: phones will refuse it", self.cert_file,
                        self.host)
        return True

    # ward CA --------------------------------------------------------------------------------
    def _refresh_ward(self, paths: WardPaths) -> bool:
        now = self.clock()
        ca, ca_key = self._ward_ca(paths, now)
        server = self._read_cert(paths.server_cert) if paths.server_key.exists() else None
        due = (server is None or _not_after(server) - now < self.renew_before or self.host not in _names(server)
               or not _issued_by(server, ca))
        if not due and server == self.server and ca == self.ca:
            return False
        if due:
            server, key = issue_server_cert(self.host, ca, ca_key, now)
            write_private_file(paths.server_key, _key_pem(key))
            _write_public(paths.server_cert, _pem(server))
            log.info("issued a TLS certificate for %s, valid until %s", self.host, _not_after(server).date())
        assert server is not None
        # Same context object: the listening socket keeps it, new handshakes use the new chain.
        self.context.load_cert_chain(paths.server_cert, paths.server_key)
        self.ca, self.server = ca, server
        return True

    def _ward_ca(self, paths: WardPaths, now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        ca = self._read_cert(paths.ca_cert) if paths.ca_key.exists() else None
        if ca is not None:
            key = serialization.load_pem_private_key(paths.ca_key.read_bytes(), password=None)
            if (isinstance(key, ec.EllipticCurvePrivateKey) and _permits(ca, self.host)
                    and _not_after(ca) - now >= self.renew_before):
                return ca, key
            log.warning("the ward CA does not cover %s or is about to expire: a new one is made; phones must "
                        "install it again", self.host)
        ca, key = make_ca(self.host, now)
        paths.keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private_file(paths.ca_key, _key_pem(key))
        _write_public(paths.ca_cert, _pem(ca))
        return ca, key

    @staticmethod
    def _read_cert(path: Path) -> x509.Certificate | None:
        try:
            return x509.load_pem_x509_certificate(path.read_bytes())
        except (OSError, ValueError):
            return None
