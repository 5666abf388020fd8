"""TLS in ``clinphoto serve``: the ward CA, the hospital's certificate, renewal at start, names not IPs."""
from __future__ import annotations

import datetime as dt
import io
import os
import ssl
import subprocess

import httpx
import pytest
import segno
from cryptography.hazmat.primitives import serialization

from crypto.keystore import write_private_file
from sync_server.listener.tls import WardPaths, fingerprint, issue_server_cert, make_ca, utc_now
from tests.support.client import SyncClient
from tests.support.photos import make_jpeg, manifest, seal, sequence_form
from tests.support.server import CLINPHOTO, REPO, ServerProcess, free_port
from tests.ward.conftest import NAME, ca_certificate, log_lines, served_certificate


def _names(cert):  # type: ignore[no-untyped-def]
    from cryptography import x509

    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)


def _refused(server, context):  # type: ignore[no-untyped-def]
    """The server ends the handshake (alert or close); the client itself was willing to try."""
    with pytest.raises(ssl.SSLError) as refused:
        served_certificate(server, context)
    assert "NO_PROTOCOLS_AVAILABLE" not in str(refused.value) and "NO_CIPHERS_AVAILABLE" not in str(refused.value)


def test_the_server_certificate_verifies_against_the_ward_ca_for_the_public_name(ward):
    version, _, cert = served_certificate(ward, ward.ssl_context())
    assert version == "TLSv1.3"
    assert _names(cert) == [NAME]
    assert cert.not_valid_after_utc - cert.not_valid_before_utc <= dt.timedelta(days=397, hours=1)
    assert cert.issuer == ca_certificate(ward.ca_file).subject


def test_a_client_expecting_another_name_refuses_the_certificate(ward):
    with pytest.raises(ssl.SSLCertVerificationError):
        served_certificate(ward, ward.ssl_context(), name="other.test")


def test_tls_1_2_gets_ecdhe_with_an_aead_suite_only(ward):
    context = ward.ssl_context()
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    version, cipher, _ = served_certificate(ward, context)
    assert version == "TLSv1.2" and cipher.startswith("ECDHE-") and ("GCM" in cipher or "CHACHA20" in cipher)
    cbc_only = ward.ssl_context()
    cbc_only.maximum_version = ssl.TLSVersion.TLSv1_2
    cbc_only.set_ciphers("ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA")
    _refused(ward, cbc_only)


def test_tls_1_1_is_refused(ward):
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
    _refused(ward, old)


def test_https_answers_without_a_server_banner_and_with_hsts(ward):
    with ward.client() as http:
        response = http.get("/healthz")
    assert response.status_code == 200
    assert "server" not in response.headers
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_a_phone_enrols_and_syncs_a_photo_over_https_by_name(ward):
    code = ward.enrollment_code("https phone")
    with ward.client() as http:
        client = SyncClient(http)
        assert client.enroll(code).status_code == 201
        public, kid = client.seal_key()
        sequence_id = "0b8f6a9e-4b5c-4f0e-9a51-6f3c2d1e0a01"
        photo = seal(make_jpeg(), public, kid, sequence_id)
        doc = manifest(client.device_id or "", [sequence_form(sequence_id)], [photo], seal_key=(public, kid))
        assert client.propose(doc).status_code == 201
        assert client.upload(doc["batch_id"], photo.photo_id, photo.sealed).status_code == 204
        commit = client.commit(doc["batch_id"])
    assert commit.status_code == 200
    assert commit.json()["receipt"]["server"] == ward.public_url


def test_the_ward_ca_key_is_private_and_its_certificate_public(ward):
    keys = ward.data_dir / "keys"
    assert (keys / "ward-ca.key").stat().st_mode & 0o777 == 0o600
    assert (keys / "tls-server.key").stat().st_mode & 0o777 == 0o600
    assert ward.ca_file.stat().st_mode & 0o777 == 0o644
    assert b"PRIVATE" not in ward.ca_file.read_bytes()


def test_the_banner_prints_the_public_address_its_qr_code_and_the_ca_fingerprint(ward):
    text = ward.log.read_text()
    url = f"https://{NAME}:{ward.port}/"
    assert f"Phones open ClinPhoto at {url}" in text
    qr = io.StringIO()
    segno.make(url, error="m").terminal(out=qr, compact=True, border=2)
    assert qr.getvalue() in text
    assert f"Ward CA SHA-256 fingerprint: {fingerprint(ca_certificate(ward.ca_file))}" in text
    assert f"http://{NAME}:{ward.http_port}/" in text


def test_a_server_certificate_near_expiry_is_replaced_at_start(tmp_path):
    data = tmp_path / "data"
    paths = WardPaths(data / "tls", data / "keys")
    paths.tls_dir.mkdir(parents=True)
    paths.keys_dir.mkdir(mode=0o700)
    now = utc_now()
    ca, ca_key = make_ca(NAME, now - dt.timedelta(days=400))
    old, old_key = issue_server_cert(NAME, ca, ca_key, now - dt.timedelta(days=380))  # 17 days left
    write_private_file(paths.ca_key, ca_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    write_private_file(paths.server_key, old_key.private_bytes(serialization.Encoding.PEM,
                                                               serialization.PrivateFormat.PKCS8,
                                                               serialization.NoEncryption()))
    paths.ca_cert.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths.server_cert.write_bytes(old.public_bytes(serialization.Encoding.PEM))
    server = ServerProcess(data, public_name=NAME)
    server.start()
    try:
        _, _, served = served_certificate(server, server.ssl_context())
    finally:
        server.stop()
    assert served.serial_number != old.serial_number
    assert served.not_valid_after_utc > now + dt.timedelta(days=390)
    assert fingerprint(ca_certificate(paths.ca_cert)) == fingerprint(ca)  # same CA: phones keep trusting it


def test_the_hospitals_certificate_is_served_when_given(tmp_path):
    now = utc_now()
    hospital_ca, hospital_key = make_ca(NAME, now)
    cert, key = issue_server_cert(NAME, hospital_ca, hospital_key, now)
    files = tmp_path / "hospital"
    files.mkdir()
    (files / "ca.pem").write_bytes(hospital_ca.public_bytes(serialization.Encoding.PEM))
    (files / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM)
                                       + hospital_ca.public_bytes(serialization.Encoding.PEM))
    write_private_file(files / "server.key", key.private_bytes(serialization.Encoding.PEM,
                                                               serialization.PrivateFormat.PKCS8,
                                                               serialization.NoEncryption()))
    data = tmp_path / "data"
    server = ServerProcess(data, public_name=NAME, trust=files / "ca.pem",
                           CLINPHOTO_TLS_CERT=str(files / "server.pem"), CLINPHOTO_TLS_KEY=str(files / "server.key"))
    server.start()
    try:
        _, _, served = served_certificate(server, server.ssl_context())
        plain = httpx.get(server.plain_url + "/")
    finally:
        server.stop()
    assert served == cert
    assert not (data / "tls" / "ca.crt").exists() and not (data / "keys" / "ward-ca.key").exists()
    assert plain.status_code == 308 and plain.headers["location"] == f"https://{NAME}:{server.port}/"
    assert "Ward CA" not in server.log.read_text()


def test_unreadable_hospital_files_stop_the_start_with_a_clear_message(tmp_path):
    env = {**os.environ, "CLINPHOTO_DATA_DIR": str(tmp_path / "data"), "CLINPHOTO_PUBLIC_URL": f"https://{NAME}:8443",
           "CLINPHOTO_HOST": "127.0.0.1", "CLINPHOTO_TLS_CERT": str(tmp_path / "missing.pem"),
           "CLINPHOTO_TLS_KEY": str(tmp_path / "missing.key")}
    done = subprocess.run([*CLINPHOTO, "serve"], env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "cannot use CLINPHOTO_TLS_CERT" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("url", ["https://192.168.1.20", "https://10.0.0.7:8443", "https://[fd00::20]:8443"])
def test_an_https_ip_address_public_url_is_refused_at_start_with_the_reason(tmp_path, url):
    env = {**os.environ, "CLINPHOTO_DATA_DIR": str(tmp_path / "data"), "CLINPHOTO_PUBLIC_URL": url}
    done = subprocess.run([*CLINPHOTO, "serve"], env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "IP address" in done.stderr and "relying party id" in done.stderr
    assert "DNS name" in done.stderr and "hosts file" in done.stderr
    assert not (tmp_path / "data" / "keys").exists()  # refused before anything was made
    assert "Traceback" not in done.stderr


def test_the_loopback_try_out_stays_plain_http_with_rp_id_localhost(tmp_path):
    from sync_server.auth.people import rp_id
    from sync_server.listener.plan import make_plan
    from sync_server.settings import Settings

    settings = Settings.from_env({"CLINPHOTO_DATA_DIR": str(tmp_path)})
    plan = make_plan(settings)
    assert (plan.tls, plan.host, plan.port, plan.public_url) == (False, "127.0.0.1", 8000, "http://127.0.0.1:8000")
    assert rp_id(settings) == "localhost"
    ward = make_plan(Settings.from_env({"CLINPHOTO_PUBLIC_URL": "https://photo-ward3.hospital.local:8443"}))
    assert (ward.tls, ward.host, ward.port, ward.http_port) == (True, "0.0.0.0", 8443, 8080)
    default = make_plan(Settings.from_env({"CLINPHOTO_PUBLIC_URL": "https://photo-ward3.hospital.local"}))
    assert (default.port, default.http_port) == (443, 80)
    proxied = make_plan(Settings.from_env({"CLINPHOTO_PUBLIC_URL": "https://photo.hospital.local",
                                           "CLINPHOTO_FORWARDED_ALLOW_IPS": "10.0.0.5"}))
    assert (proxied.tls, proxied.host, proxied.port, proxied.http_port) == (False, "127.0.0.1", 8000, 0)


def test_a_port_in_use_stops_the_start_with_a_clear_message(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = {**os.environ, "CLINPHOTO_DATA_DIR": str(tmp_path / "data"), "CLINPHOTO_HOST": "127.0.0.1",
               "CLINPHOTO_PUBLIC_URL": f"https://{NAME}:{free_port()}",
               "CLINPHOTO_HTTP_PORT": str(taken.getsockname()[1])}
        done = subprocess.run([*CLINPHOTO, "serve"], env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "cannot listen on" in done.stderr and "CLINPHOTO_HTTP_PORT" in done.stderr and "Traceback" not in done.stderr
