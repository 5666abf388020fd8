"""The start banner for each way of listening (the ward CA case is checked on the real server)."""
from __future__ import annotations

from sync_server.listener.banner import banner
from sync_server.listener.plan import make_plan
from sync_server.settings import Settings


def test_the_loopback_try_out_says_it_is_local_and_how_to_go_on_the_ward():
    text = banner(make_plan(Settings.from_env({})), None)
    assert text.startswith("ClinPhoto serves http://127.0.0.1:8000/ (this computer only).")
    assert "CLINPHOTO_PUBLIC_URL=https://<server name>[:port] make run" in text
    assert "█" not in text  # no QR code of an address a phone cannot reach


def test_behind_a_proxy_the_banner_shows_the_public_address_its_qr_code_and_the_trusted_proxies():
    plan = make_plan(Settings.from_env({"CLINPHOTO_PUBLIC_URL": "https://photo.hospital.local",
                                        "CLINPHOTO_FORWARDED_ALLOW_IPS": "10.0.0.5, 10.1.0.0/16"}))
    text = banner(plan, None)
    assert text.startswith("Phones open ClinPhoto at https://photo.hospital.local/\n")
    assert "█" in text and "10.0.0.5/32, 10.1.0.0/16" in text and "fingerprint" not in text
