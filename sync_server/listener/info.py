"""What the administrator's screen shows about the ward address: read from the settings and the
ward CA file, so the application needs nothing from the listener process."""
from __future__ import annotations

from typing import Any

from cryptography import x509

from ..settings import Settings
from .plan import PlanError, make_plan
from .tls import fingerprint


def ward_address(settings: Settings) -> dict[str, Any]:
    try:
        plan = make_plan(settings)
    except PlanError:  # serve refuses to start with these settings; the app may still run in tests
        return {"public_url": settings.resolved_public_url.rstrip("/") + "/", "tls": "none",
                "ca_fingerprint": None, "trust_url": None}
    ca_fingerprint = None
    if plan.ward_ca is not None:
        try:
            ca_fingerprint = fingerprint(x509.load_pem_x509_certificate(plan.ward_ca.ca_cert.read_bytes()))
        except (OSError, ValueError):
            ca_fingerprint = None
    tls = "ward_ca" if plan.ward_ca else "hospital" if plan.tls else "proxy" if plan.proxies else "none"
    return {"public_url": plan.public_url + "/", "tls": tls, "ca_fingerprint": ca_fingerprint,
            "trust_url": plan.trust_url if plan.ward_ca else None}
