"""The administrator's view of the ward address: public URL, its QR code, the ward CA fingerprint."""
from __future__ import annotations

from sync_server.listener.info import ward_address
from sync_server.listener.tls import Certificates, WardPaths, fingerprint
from sync_server.settings import Settings
from tests.people.conftest import admin, audit, person  # noqa: F401  (fixtures)


def test_an_administrator_reads_the_ward_address_with_its_qr_code_and_it_is_audited(admin, audit):  # noqa: F811
    response = admin.get("/api/v1/admin/ward")
    assert response.status_code == 200
    body = response.json()
    assert body["public_url"] == "http://127.0.0.1:8000/" and body["tls"] == "none"
    assert body["ca_fingerprint"] is None and body["trust_url"] is None
    assert body["qr_svg"].startswith("data:image/svg+xml")
    assert [e["actor"] for e in audit("ward.address")] == [f"user:{admin.id}"]


def test_only_administrators_read_it(person):  # noqa: F811
    assert person("nurse").get("/api/v1/admin/ward").status_code == 403


def test_the_address_names_the_ward_ca_and_the_page_that_installs_it(tmp_path):
    settings = Settings(data_dir=tmp_path, public_url="https://photo-ward3.hospital.local:8443")
    certificates = Certificates("photo-ward3.hospital.local", ward=WardPaths(tmp_path / "tls", tmp_path / "keys"))
    certificates.refresh()
    assert ward_address(settings) == {
        "public_url": "https://photo-ward3.hospital.local:8443/", "tls": "ward_ca",
        "ca_fingerprint": fingerprint(certificates.ca), "trust_url": "http://photo-ward3.hospital.local:8080/"}  # type: ignore[arg-type]
    hospital = Settings(data_dir=tmp_path, public_url="https://photo.hospital.local", tls_cert=tmp_path / "c.pem",
                        tls_key=tmp_path / "k.pem")
    assert ward_address(hospital)["tls"] == "hospital" and ward_address(hospital)["ca_fingerprint"] is None
    proxied = Settings(data_dir=tmp_path, public_url="https://photo.hospital.local", forwarded_allow_ips="10.0.0.5")
    assert ward_address(proxied)["tls"] == "proxy"
