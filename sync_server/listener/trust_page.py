"""What the server answers over plain HTTP while it terminates TLS itself.

Only: ``/`` (how to trust the ward CA on iOS and Android, in French or English), ``/ca.crt``,
``/ca.mobileconfig`` (an iOS configuration profile holding the CA) and ``/healthz`` (for
monitoring). Everything else is a 308 to the same path on the HTTPS address. With a hospital
certificate there is nothing to install: everything but ``/healthz`` redirects.
"""
from __future__ import annotations

from typing import Any

import base64
import hashlib
import html
import plistlib
import uuid
from dataclasses import dataclass

import segno
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .tls import Certificates, fingerprint

_STYLE = (
    "body{font:16px/1.45 system-ui,sans-serif;margin:0;padding:1rem;max-width:40rem;margin:auto;color:#1b1f24}"
    "h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.5rem}ol{padding-left:1.3rem}li{margin:.3rem 0}"
    ".fp{font-family:ui-monospace,monospace;font-size:.8rem;background:#f1f3f5;padding:.5rem}"
    ".btn{display:inline-block;padding:.6rem 1rem;margin:.2rem 0;background:#0b5cad;color:#fff;border-radius:.4rem;"
    "text-decoration:none}.go{background:#1f7a3a;font-size:1.1rem}.lang{float:right}img{width:12rem;height:12rem}"
)
_CSP = (f"default-src 'none'; img-src data:; style-src 'sha256-"
        f"{base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()}'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'")
_HEADERS = {"Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY", "Cache-Control": "no-cache"}

TEXT: dict[str, dict[str, Any]] = {
    "fr": {
        "title": "ClinPhoto : faire confiance au serveur du service",
        "intro": "ClinPhoto s'ouvre en HTTPS à l'adresse ci-dessous. Le certificat de ce serveur est signé par "
                 "l'autorité (CA) du service : installez-la une fois sur chaque téléphone, puis ouvrez l'adresse.",
        "fp": "Empreinte SHA-256 de l'autorité, à comparer avec celle affichée par le téléphone :",
        "ios": "iPhone et iPad",
        "ios_steps": ["Ouvrez cette page dans Safari et touchez « Profil pour iPhone », puis « Autoriser ».",
                      "Réglages > Général > VPN et gestion de l'appareil : touchez le profil, puis « Installer ».",
                      "Réglages > Général > Informations > Réglages des certificats de confiance : activez "
                      "« ClinPhoto ward CA ».",
                      "Ouvrez l'adresse HTTPS ci-dessous."],
        "ios_btn": "Profil pour iPhone",
        "android": "Android",
        "android_steps": ["Touchez « Certificat pour Android » pour le télécharger.",
                          "Paramètres > Sécurité > Chiffrement et identifiants > Installer un certificat > "
                          "Certificat CA, puis choisissez le fichier téléchargé.",
                          "Comparez l'empreinte, puis ouvrez l'adresse HTTPS ci-dessous."],
        "android_btn": "Certificat pour Android",
        "open": "Ouvrir ClinPhoto",
        "qr": "Code QR de l'adresse HTTPS",
        "other": "English",
    },
    "en": {
        "title": "ClinPhoto: trust the ward server",
        "intro": "ClinPhoto opens over HTTPS at the address below. This server's certificate is signed by the "
                 "ward's certificate authority (CA): install it once on each phone, then open the address.",
        "fp": "SHA-256 fingerprint of the authority, to compare with the one the phone shows:",
        "ios": "iPhone and iPad",
        "ios_steps": ["Open this page in Safari, tap \u201ciPhone profile\u201d, then \u201cAllow\u201d.",
                      "Settings > General > VPN & Device Management: tap the profile, then \u201cInstall\u201d.",
                      "Settings > General > About > Certificate Trust Settings: turn on \u201cClinPhoto ward "
                      "CA\u201d.",
                      "Open the HTTPS address below."],
        "ios_btn": "iPhone profile",
        "android": "Android",
        "android_steps": ["Tap \u201cAndroid certificate\u201d to download it.",
                          "Settings > Security > Encryption & credentials > Install a certificate > CA certificate, "
                          "then pick the downloaded file.",
                          "Compare the fingerprint, then open the HTTPS address below."],
        "android_btn": "Android certificate",
        "open": "Open ClinPhoto",
        "qr": "QR code of the HTTPS address",
        "other": "Français",
    },
}


def _french_spacing(text: str) -> str:
    """No line break inside « guillemets » or before a colon (a narrow no-break space in print)."""
    return text.replace("« ", "«\u00a0").replace(" »", "\u00a0»").replace(" :", "\u00a0:")


TEXT["fr"] = {key: [_french_spacing(v) for v in value] if isinstance(value, list) else _french_spacing(value)
              for key, value in TEXT["fr"].items()}


def pick_language(request: Request) -> str:
    chosen = request.query_params.get("lang")
    if chosen in TEXT:
        return chosen
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in TEXT:
            return tag
    return "en"


def mobileconfig(ca: x509.Certificate, host: str) -> bytes:
    """An iOS configuration profile whose one payload (``com.apple.security.root``) is the CA."""
    der = ca.public_bytes(serialization.Encoding.DER)
    seed = fingerprint(ca)
    payload = {
        "PayloadType": "com.apple.security.root", "PayloadVersion": 1,
        "PayloadIdentifier": f"clinphoto.ward-ca.{seed[:23].replace(':', '')}.cert",
        "PayloadUUID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"clinphoto-ca-cert:{seed}")).upper(),
        "PayloadDisplayName": "ClinPhoto ward CA", "PayloadDescription": f"Certificate authority of {host}",
        "PayloadCertificateFileName": "clinphoto-ward-ca.cer", "PayloadContent": der,
    }
    profile = {
        "PayloadType": "Configuration", "PayloadVersion": 1,
        "PayloadIdentifier": f"clinphoto.ward-ca.{seed[:23].replace(':', '')}",
        "PayloadUUID": str(uuid.uuid5(uuid.NAMESPACE_URL, f"clinphoto-ca-profile:{seed}")).upper(),
        "PayloadDisplayName": f"ClinPhoto ward CA ({host})",
        "PayloadDescription": f"Lets this device trust the ClinPhoto server {host}.",
        "PayloadOrganization": "ClinPhoto", "PayloadRemovalDisallowed": False, "PayloadContent": [payload],
    }
    return plistlib.dumps(profile)


def page(lang: str, https_url: str, ca_fingerprint: str) -> str:
    t = TEXT[lang]
    other = "en" if lang == "fr" else "fr"
    qr = segno.make(https_url + "/", error="m").svg_data_uri(scale=6, border=4, light="white")
    url = html.escape(https_url + "/")
    fingerprint_html = ca_fingerprint.replace(":", ":<wbr>")  # breaks lines between pairs only

    def steps(items: list[str]) -> str:
        return "".join(f"<li>{html.escape(s)}</li>" for s in items)

    return (
        f"<!doctype html><html lang={lang}><meta charset=utf-8><meta name=viewport content=\"width=device-width,"
        f"initial-scale=1\"><title>{html.escape(t['title'])}</title><style>{_STYLE}</style>"
        f"<a class=lang href=\"/?lang={other}\" hreflang={other}>{t['other']}</a>"
        f"<h1>{html.escape(t['title'])}</h1><p>{html.escape(t['intro'])}</p>"
        f"<p>{html.escape(t['fp'])}</p><p class=fp>{fingerprint_html}</p>"
        f"<h2>{t['ios']}</h2><p><a class=btn href=/ca.mobileconfig>{html.escape(t['ios_btn'])}</a></p>"
        f"<ol>{steps(t['ios_steps'])}</ol>"
        f"<h2>{t['android']}</h2><p><a class=btn href=/ca.crt download=clinphoto-ward-ca.crt>"
        f"{html.escape(t['android_btn'])}</a></p><ol>{steps(t['android_steps'])}</ol>"
        f"<h2>{html.escape(t['open'])}</h2><p><img src=\"{qr}\" alt=\"{html.escape(t['qr'])}\"></p>"
        f"<p><a class=\"btn go\" href=\"{url}\">{url}</a></p></html>")


_PAGES = ("/", "/ca.crt", "/ca.mobileconfig")


@dataclass(frozen=True)
class _Template:
    path: str


class TrustPage:
    """The plain-HTTP ASGI app. ``health`` answers ``/healthz`` (the main application)."""

    def __init__(self, https_url: str, host: str, certificates: Certificates, health: ASGIApp) -> None:
        self.https_url = https_url
        self.host = host
        self.certificates = certificates  # its CA is None with a hospital certificate
        self.health = health

    @property
    def ca(self) -> x509.Certificate | None:
        return self.certificates.ca

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        path, method = scope["path"], scope["method"]
        if path == "/healthz":
            await self.health(scope, receive, send)
            return
        response: Response
        scope["route"] = _Template(path if path in _PAGES else "/{path}")  # the access log's route
        if self.ca is not None and path in _PAGES and method in ("GET", "HEAD"):
            response = self._answer(request, path)
        elif self.ca is not None and path in _PAGES:
            response = PlainTextResponse("Method not allowed.", status_code=405, headers={"Allow": "GET, HEAD"})
        else:
            target = self.https_url + (path if path.startswith("/") else "/")
            if scope.get("query_string"):
                target += "?" + scope["query_string"].decode("latin-1")
            response = RedirectResponse(target, status_code=308)
        await response(scope, receive, send)

    def _answer(self, request: Request, path: str) -> Response:
        assert self.ca is not None
        if path == "/ca.crt":
            return Response(self.ca.public_bytes(serialization.Encoding.PEM), media_type="application/x-x509-ca-cert",
                            headers={**_HEADERS, "Content-Disposition": "attachment; filename=clinphoto-ward-ca.crt"})
        if path == "/ca.mobileconfig":
            return Response(mobileconfig(self.ca, self.host), media_type="application/x-apple-aspen-config",
                            headers={**_HEADERS,
                                     "Content-Disposition": "attachment; filename=clinphoto-ward-ca.mobileconfig"})
        lang = pick_language(request)
        return HTMLResponse(page(lang, self.https_url, fingerprint(self.ca)),
                            headers={**_HEADERS, "Content-Language": lang, "Vary": "Accept-Language"})
