"""What ``clinphoto serve`` listens on, worked out from the settings before anything starts."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..settings import Settings, parse_networks
from .tls import WardPaths

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class PlanError(ValueError):
    """The settings cannot make a working listener; the message says why and what to do."""


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class ListenPlan:
    public_url: str  # origin phones use, no trailing slash
    public_host: str
    host: str  # bind address
    port: int  # the application's port (HTTPS when tls)
    tls: bool  # this process terminates TLS
    http_port: int  # plain-HTTP trust page and redirect; 0: none
    proxies: tuple[Network, ...]
    ward_ca: WardPaths | None  # None: hospital certificate, or no TLS here
    cert_file: Path | None
    key_file: Path | None

    @property
    def loopback(self) -> bool:
        host = self.public_host
        return host == "localhost" or (is_ip(host) and ipaddress.ip_address(host).is_loopback)

    @property
    def trust_url(self) -> str | None:
        """The plain-HTTP page that explains how to trust the ward CA."""
        if not self.http_port:
            return None
        port = "" if self.http_port == 80 else f":{self.http_port}"
        host = f"[{self.public_host}]" if ":" in self.public_host else self.public_host
        return f"http://{host}{port}/"


def make_plan(settings: Settings) -> ListenPlan:
    public = settings.resolved_public_url.rstrip("/")
    parts = urlsplit(public)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PlanError(f"CLINPHOTO_PUBLIC_URL={settings.public_url!r} is not an http:// or https:// address")
    host_name = parts.hostname.lower()
    proxies = parse_networks(settings.forwarded_allow_ips)
    if parts.scheme == "https" and is_ip(host_name):
        raise PlanError(
            f"CLINPHOTO_PUBLIC_URL={public} uses an IP address. Browsers refuse an IP address as the WebAuthn "
            "relying party id, so no passkey could be made or used, and phones check a TLS certificate against a "
            "name. Give the server a name phones can resolve: a DNS name from the hospital (e.g. "
            "https://photo-ward3.hospital.local), or a name in the ward router's DHCP/DNS or hosts file, then set "
            "CLINPHOTO_PUBLIC_URL to it.")
    if settings.tls_cert is not None or settings.tls_key is not None:
        if settings.tls_cert is None or settings.tls_key is None:
            raise PlanError("set both CLINPHOTO_TLS_CERT and CLINPHOTO_TLS_KEY (PEM files), or neither for the ward CA")
    tls = parts.scheme == "https" and not proxies
    if not tls:
        return ListenPlan(public_url=public, public_host=host_name, host=settings.host or "127.0.0.1",
                          port=settings.port or 8000, tls=False, http_port=0, proxies=proxies, ward_ca=None,
                          cert_file=None, key_file=None)
    port = settings.port or parts.port or 443
    http_port = settings.http_port if settings.http_port is not None else (80 if port == 443 else 8080)
    if http_port == port:
        raise PlanError(f"CLINPHOTO_HTTP_PORT={http_port} is the HTTPS port too: choose another one, or 0 for none")
    hospital = settings.tls_cert is not None
    ward = None if hospital else WardPaths(settings.data_dir / "tls", settings.resolved_keys_dir)
    return ListenPlan(public_url=public, public_host=host_name, host=settings.host or "0.0.0.0", port=port,
                      tls=True, http_port=http_port, proxies=proxies, ward_ca=ward, cert_file=settings.tls_cert,
                      key_file=settings.tls_key)
