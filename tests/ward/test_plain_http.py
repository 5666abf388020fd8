"""Plain HTTP beside HTTPS: the page that installs the ward CA, its files, and a redirect for the rest."""
from __future__ import annotations

import plistlib

import httpx
from cryptography.hazmat.primitives import serialization

from sync_server.listener.tls import fingerprint
from tests.ward.conftest import NAME, ca_certificate


def test_the_page_explains_ios_and_android_in_english_with_fingerprint_qr_and_link(ward):
    response = httpx.get(ward.plain_url + "/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert response.headers["content-language"] == "en"
    page = response.text
    assert "Settings &gt; General &gt; About &gt; Certificate Trust Settings" in page
    assert "Settings &gt; Security &gt; Encryption &amp; credentials &gt; Install a certificate &gt; CA certificate" in page
    assert fingerprint(ca_certificate(ward.ca_file)).replace(":", ":<wbr>") in page
    assert 'href=/ca.mobileconfig' in page and 'href=/ca.crt' in page
    assert f'href="https://{NAME}:{ward.port}/"' in page
    assert 'src="data:image/svg+xml' in page
    assert "script" not in page  # nothing runs on a page served without TLS


def test_the_page_is_in_french_for_a_french_phone_and_both_languages_are_reachable(ward):
    fr = httpx.get(ward.plain_url + "/", headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"})
    assert fr.headers["content-language"] == "fr"
    assert "Réglages &gt; Général &gt; Informations &gt; Réglages des certificats de confiance" in fr.text
    assert 'href="/?lang=en"' in fr.text
    en = httpx.get(ward.plain_url + "/?lang=en", headers={"Accept-Language": "fr-FR"})
    assert en.headers["content-language"] == "en" and 'href="/?lang=fr"' in en.text


def test_the_page_forbids_scripts_and_frames(ward):
    csp = httpx.get(ward.plain_url + "/").headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp


def test_the_ca_certificate_is_served_as_a_ca_file(ward):
    response = httpx.get(ward.plain_url + "/ca.crt")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-x509-ca-cert"
    assert response.content == ward.ca_file.read_bytes()


def test_the_ios_profile_carries_the_ca_as_a_root_payload(ward):
    response = httpx.get(ward.plain_url + "/ca.mobileconfig")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-apple-aspen-config"
    profile = plistlib.loads(response.content)
    assert profile["PayloadType"] == "Configuration" and profile["PayloadVersion"] == 1
    (payload,) = profile["PayloadContent"]
    assert payload["PayloadType"] == "com.apple.security.root"
    assert payload["PayloadContent"] == ca_certificate(ward.ca_file).public_bytes(serialization.Encoding.DER)
    assert profile["PayloadUUID"] != payload["PayloadUUID"]
    assert httpx.get(ward.plain_url + "/ca.mobileconfig").content == response.content  # stable: same profile


def test_everything_else_redirects_to_the_same_path_on_https_whatever_the_host_header(ward):
    response = httpx.get(ward.plain_url + "/api/v1/keys?x=1", headers={"Host": "evil.example"})
    assert response.status_code == 308
    assert response.headers["location"] == f"https://{NAME}:{ward.port}/api/v1/keys?x=1"
    post = httpx.post(ward.plain_url + "/api/v1/batches", json={})
    assert post.status_code == 308 and post.headers["location"] == f"https://{NAME}:{ward.port}/api/v1/batches"
    assert httpx.post(ward.plain_url + "/").status_code == 405


def test_healthz_answers_over_plain_http_for_monitoring(ward):
    response = httpx.get(ward.plain_url + "/healthz")
    assert response.status_code == 200 and response.json()["status"] == "ok"
