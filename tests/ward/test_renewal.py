"""The server certificate is renewed before it expires, in place: new handshakes get the new one."""
from __future__ import annotations

import asyncio
import os
import datetime as dt
import ssl
import time
from pathlib import Path

from cryptography import x509

from sync_server.listener.serve import keep_certificates
from sync_server.listener.tls import Certificates, WardPaths, utc_now
from tests.ward.conftest import NAME


def _served(context: ssl.SSLContext, cafile: Path, verify: bool = True) -> x509.Certificate:
    """One TLS handshake in memory against ``context``, checked by a client that trusts ``cafile``
    (``verify=False`` once the test's clock is ahead of the real one: the certificate is not valid yet)."""
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    c_in, c_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    trusting = ssl.create_default_context(cafile=str(cafile))
    if not verify:
        trusting.check_hostname = False
        trusting.verify_mode = ssl.CERT_NONE
    client = trusting.wrap_bio(c_in, c_out, server_hostname=NAME)
    server = context.wrap_bio(to_server, to_client, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(20):
        for side, conn in (("client", client), ("server", server)):
            if not done[side]:
                try:
                    conn.do_handshake()
                    done[side] = True
                except ssl.SSLWantReadError:
                    pass
        to_server.write(c_out.read())
        c_in.write(to_client.read())
        if all(done.values()):
            break
    assert all(done.values())
    der = client.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


class Clock:
    def __init__(self) -> None:
        self.now = utc_now()

    def __call__(self) -> dt.datetime:
        return self.now


def test_the_certificate_is_kept_while_more_than_30_days_remain_then_renewed_in_place(tmp_path):
    clock = Clock()
    paths = WardPaths(tmp_path / "tls", tmp_path / "keys")
    certificates = Certificates(NAME, ward=paths, clock=clock)
    assert certificates.refresh()
    first = certificates.server
    assert first is not None and _served(certificates.context, paths.ca_cert) == first

    clock.now += dt.timedelta(days=360)  # 37 days left
    assert not certificates.refresh() and certificates.server == first

    clock.now += dt.timedelta(days=10)  # 27 days left: renewed, same context, same CA
    ca = certificates.ca
    assert certificates.refresh()
    assert certificates.server != first and certificates.ca == ca
    certificates.server.verify_directly_issued_by(ca)  # type: ignore[union-attr, arg-type]
    assert _served(certificates.context, paths.ca_cert, verify=False) == certificates.server


def test_a_restart_keeps_a_certificate_that_is_still_good(tmp_path):
    paths = WardPaths(tmp_path / "tls", tmp_path / "keys")
    first = Certificates(NAME, ward=paths)
    first.refresh()
    again = Certificates(NAME, ward=paths)
    again.refresh()
    assert again.server == first.server and again.ca == first.ca


def test_a_new_public_name_gets_a_new_ca_since_the_old_one_is_constrained_to_the_old_name(tmp_path):
    paths = WardPaths(tmp_path / "tls", tmp_path / "keys")
    first = Certificates(NAME, ward=paths)
    first.refresh()
    moved = Certificates("photo-ward4.test", ward=paths)
    moved.refresh()
    assert moved.ca != first.ca
    names = moved.server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value  # type: ignore[union-attr]
    assert names.get_values_for_type(x509.DNSName) == ["photo-ward4.test"]


def test_the_daily_check_renews_while_the_server_runs(tmp_path):
    clock = Clock()
    paths = WardPaths(tmp_path / "tls", tmp_path / "keys")
    certificates = Certificates(NAME, ward=paths, clock=clock)
    certificates.refresh()
    first = certificates.server
    clock.now += dt.timedelta(days=380)

    async def run() -> x509.Certificate | None:
        task = asyncio.create_task(keep_certificates(certificates, every=0))  # "daily", without the day
        deadline = time.monotonic() + 10
        while certificates.server == first and time.monotonic() < deadline:
            await asyncio.sleep(0)
        task.cancel()
        return certificates.server

    renewed = asyncio.run(run())
    assert renewed != first
    assert _served(certificates.context, paths.ca_cert, verify=False) == renewed
    assert renewed.not_valid_after_utc > clock.now + dt.timedelta(days=390)  # type: ignore[union-attr]


def test_the_hospitals_renewed_files_are_loaded_at_the_next_check(tmp_path):
    from cryptography.hazmat.primitives import serialization

    from crypto.keystore import write_private_file
    from sync_server.listener.tls import issue_server_cert, make_ca

    now = utc_now()
    ca, ca_key = make_ca(NAME, now)
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))

    def deliver() -> x509.Certificate:
        cert, key = issue_server_cert(NAME, ca, ca_key, now)
        write_private_file(tmp_path / "key.pem", key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cert

    first = deliver()
    certificates = Certificates(NAME, cert_file=tmp_path / "cert.pem", key_file=tmp_path / "key.pem")
    assert certificates.refresh() and certificates.ca is None  # no ward CA with the hospital's files
    assert not certificates.refresh()  # unchanged files are not read again
    assert _served(certificates.context, tmp_path / "ca.pem") == first
    second = deliver()
    stamp = (tmp_path / "cert.pem").stat().st_mtime_ns + 1_000_000_000
    os.utime(tmp_path / "cert.pem", ns=(stamp, stamp))  # a later delivery, even within the same second
    assert certificates.refresh()
    assert _served(certificates.context, tmp_path / "ca.pem") == second
