"""The start banner: the address phones use, its QR code, and the ward CA's fingerprint."""
from __future__ import annotations

import io

import segno

from .plan import ListenPlan


def banner(plan: ListenPlan, ca_fingerprint: str | None) -> str:
    out = io.StringIO()
    url = plan.public_url + "/"
    if plan.loopback:
        out.write(f"ClinPhoto serves {url} (this computer only).\n"
                  "To put it on the ward: CLINPHOTO_PUBLIC_URL=https://<server name>[:port] make run\n")
        return out.getvalue()
    out.write(f"Phones open ClinPhoto at {url}\n")
    segno.make(url, error="m").terminal(out=out, compact=True, border=2)
    if ca_fingerprint:
        out.write(f"Ward CA SHA-256 fingerprint: {ca_fingerprint}\n")
        if plan.trust_url:
            out.write(f"A phone that does not trust the ward CA yet: open {plan.trust_url} to install it.\n")
    elif plan.tls:
        out.write("TLS with the hospital's certificate.\n")
    elif plan.proxies:
        out.write("Behind the hospital's TLS proxy "
                  f"(forwarded headers believed from {', '.join(str(p) for p in plan.proxies)}).\n")
    return out.getvalue()
