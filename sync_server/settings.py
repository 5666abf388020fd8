"""All configuration, read once from ``CLINPHOTO_*`` environment variables.

Each setting carries its help text: the README table is checked against it by
``tests/test_docs.py`` so the documentation cannot drift.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import os
from pathlib import Path
from typing import Any, Callable, Mapping

REPO_ROOT = Path(__file__).resolve().parents[1]


class SettingsError(ValueError):
    """A ``CLINPHOTO_*`` variable holds a value that cannot be used."""


def _setting(default: Any, help: str, parse: Callable[[str], Any] | None = None) -> Any:
    return dataclasses.field(default=default, metadata={"help": help, "parse": parse})


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_working_hours(text: str) -> tuple[int, int] | None:
    """``"07:00-20:00"`` as minutes after midnight ``(start, end)``; ``None`` for ``off``."""
    if text.strip().lower() in ("off", ""):
        return None
    try:
        start, end = (part.strip().split(":") for part in text.split("-"))
        minutes = [int(h) * 60 + int(m) for h, m in (start, end)]
    except ValueError:
        raise ValueError("working hours read HH:MM-HH:MM, e.g. 07:00-20:00") from None
    if any(not 0 <= v <= 24 * 60 for v in minutes) or minutes[0] == minutes[1]:
        raise ValueError("working hours are two different times between 00:00 and 24:00")
    return minutes[0], minutes[1]


def parse_working_days(text: str) -> frozenset[int]:
    """``"mon-fri"`` or ``"mon,wed,fri"`` as ISO weekday numbers minus one (Monday is 0)."""
    days: set[int] = set()
    for part in text.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in _DAYS or (last and last not in _DAYS):
            raise ValueError("working days are mon..sun, as a range (mon-fri) or a list (mon,wed)")
        a, b = _DAYS.index(first), _DAYS.index(last or first)
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return frozenset(days)


def _working_hours(text: str) -> str:
    parse_working_hours(text)
    return text.strip()


def _working_days(text: str) -> str:
    parse_working_days(text)
    return text.strip()


def _timezone(text: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {text!r}: use an IANA name such as Europe/Paris") from None
    return text


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError("must be a TCP port, 0 to 65535")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError("must be a positive number of seconds")
    return value


def parse_networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """``"10.0.0.5, 192.168.0.0/24, ::1"`` as networks (a bare address is a /32 or /128)."""
    networks = []
    for part in (p.strip() for p in text.split(",")):
        if part:
            try:
                networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ValueError(f"{part!r} is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24)") from None
    return tuple(networks)


def _networks(text: str) -> str:
    parse_networks(text)
    return text.strip()


def _access_log(text: str) -> str:
    value = text.strip().lower()
    if value not in ("text", "json", "off"):
        raise ValueError("must be text, json or off")
    return value


def _flag(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        raise ValueError("must be 1 or 0 (true/false, yes/no, on/off)")
    return value in ("1", "true", "yes", "on")


@dataclasses.dataclass(frozen=True)
class Settings:
    host: str = _setting(
        "", "Address the server listens on. Default: `127.0.0.1`, or `0.0.0.0` (every interface: phones must reach "
        "it) when the server terminates TLS itself for an `https://` public URL."
    )
    port: int | None = _setting(
        None, "TCP port the server listens on. Default: `8000`, or when the server terminates TLS itself the "
        "public URL's port (`443` if it names none).", _port
    )
    data_dir: Path = _setting(
        REPO_ROOT / "var",
        "Folder holding the database (SQLite default), filed photos and upload temp files.",
        Path,
    )
    keys_dir: Path | None = _setting(
        None,
        "Folder holding the server's private keys (sealing, signing, key-encryption). "
        "Default: `<data_dir>/keys`; put it on another volume to keep keys apart from data.",
        Path,
    )
    database_url: str | None = _setting(
        None,
        "Database URL: `sqlite:///<path>` (default `<data_dir>/clinphoto.db`) or "
        "`postgresql://user:pass@host/db`.",
    )
    pwa_dir: Path = _setting(
        REPO_ROOT / "pwa" / "dist", "Built capture app served at `/` (output of `npm run build`).", Path
    )
    public_url: str = _setting(
        "", "Origin the phones reach the server at, written into receipts; its host name is the passkeys' relying "
        "party id. `https://<name>[:port]`: the server terminates TLS itself (ward CA or `CLINPHOTO_TLS_CERT`) "
        "unless `CLINPHOTO_FORWARDED_ALLOW_IPS` says a TLS proxy is in front; an `https://` address must be a "
        "name, never an IP address. Default: `http://<host>:<port>` (loopback try-out)."
    )
    tls_cert: Path | None = _setting(
        None, "The hospital's TLS certificate for the public host name (PEM, chain included), used instead of the "
        "ward CA when the server terminates TLS. Set with `CLINPHOTO_TLS_KEY`; reloaded when the files change "
        "(checked daily).", Path
    )
    tls_key: Path | None = _setting(
        None, "Private key of `CLINPHOTO_TLS_CERT` (PEM, unencrypted; keep it 0600).", Path
    )
    http_port: int | None = _setting(
        None, "Plain-HTTP port beside HTTPS when the server terminates TLS: answers the page that explains how to "
        "trust the ward CA (`/`, `/ca.crt`, `/ca.mobileconfig`) and `/healthz`, and 308-redirects everything else "
        "to HTTPS. Default: `80` when the HTTPS port is `443`, else `8080`. `0`: no plain-HTTP listener.", _port
    )
    forwarded_allow_ips: str = _setting(
        "", "Comma-separated IP addresses or networks (CIDR) of the hospital's TLS proxies. Their "
        "`X-Forwarded-For`, `-Proto` and `-Host` headers are believed (audit and log addresses are then the real "
        "client's); from anyone else those headers are dropped. Non-empty: a proxy terminates TLS, so the server "
        "listens plain HTTP on `CLINPHOTO_HOST:CLINPHOTO_PORT` even for an `https://` public URL.", _networks
    )
    access_log: str = _setting(
        "text", "One line per request on standard output: method, route template (never the path or query "
        "string), status, duration, device or person id, client address. `text`, `json` (one object per line) "
        "or `off`.", _access_log
    )
    max_header_bytes: int = _setting(
        16_384, "Largest request head (request line and header fields) accepted, in bytes; larger: 431.",
        _positive_int
    )
    max_headers: int = _setting(100, "Most header fields in one request; more: 431.", _positive_int)
    header_timeout_seconds: float = _setting(
        10.0, "Seconds a client has to send a whole request head, from its first byte (or from connecting); "
        "slower: 408 and the connection is closed.", _positive_float
    )
    body_timeout_seconds: float = _setting(
        30.0, "Seconds a request body may pause between two bytes; longer: 408 (or the connection is closed if "
        "the answer has started). A tus upload cut this way resumes.", _positive_float
    )
    keep_alive_seconds: int = _setting(
        5, "Seconds an idle keep-alive connection stays open between two requests.", _positive_int
    )
    max_requests_per_connection: int = _setting(
        1_000, "Requests served on one connection; the last one is answered with `Connection: close`.",
        _positive_int
    )
    max_blob_bytes: int = _setting(
        64 * 1024 * 1024, "Largest sealed photo accepted, in bytes.", _positive_int
    )
    max_pixels: int = _setting(
        120_000_000, "Largest image accepted, in pixels (width x height); larger ones are refused.", _positive_int
    )
    max_json_bytes: int = _setting(
        4 * 1024 * 1024, "Largest JSON request body (batch manifest) accepted, in bytes.", _positive_int
    )
    upload_expiry_seconds: int = _setting(
        86_400, "Lifetime of an unfinished tus upload before it expires and is removed.", _positive_int
    )
    enrollment_code_ttl_seconds: int = _setting(
        900, "Lifetime of a one-time device enrolment code.", _positive_int
    )
    ingest_concurrency: int = _setting(
        4, "Photos verified and filed at the same time (bounds concurrent fsyncs; about 2 MB of memory each).",
        _positive_int,
    )
    storage_low_space_bytes: int = _setting(
        1 << 30, "Free space on hospital storage below which /healthz says degraded and the log warns the "
        "administrator, before writes start failing with storage_full. 0 turns the warning off.", int,
    )
    decode_workers: int = _setting(
        1, "Worker processes that fully decode filed photos and make renditions.", _positive_int
    )
    decode_memory_bytes: int = _setting(
        400 * 1024 * 1024, "Hard memory limit (address space) of each decode worker, in bytes. A photo whose decoded "
        "pixels (width x height x bands x bytes per sample) exceed a third of what is left after the worker's own "
        "~192 MB is quarantined (`decode_budget_exceeded`) before a pixel is decoded; a decode reaching the limit "
        "is quarantined too (`decode_memory_exceeded`).", _positive_int
    )
    decode_backlog_max: int = _setting(
        200, "Photos filed and waiting for their full decode beyond which a new upload waits (up to 30 s) for the "
        "decode to catch up: under a load that never stops, the sync goes at the decode's pace and the backlog "
        "stays bounded (about 20 s of decode work with the default) instead of growing with the load.",
        _positive_int
    )
    left_behind_seconds: int = _setting(
        300, "With several server processes (docs/deploy.md, section 10): a photo filed this many seconds ago and "
        "still not checked, or an upload whole but not filed, was left by a process that stopped; the leading "
        "process takes it over, and looks for such work this often.", _positive_int
    )
    log_level: str = _setting("info", "Server log level (debug, info, warning, error).")
    signin_failures_per_account: int = _setting(
        5, "Failed passkey sign-ins against one account in a minute before that account is refused for a minute "
        "(the main defence; other people are not affected).", _positive_int
    )
    signin_failures_per_address: int = _setting(
        100, "Failed passkey ceremonies from one client address in a minute before that address is refused for a "
        "minute; set high because a ward shares one address. A valid invitation still registers.", _positive_int
    )
    audit_origin: str = _setting(
        "", "Name of the audit log in its signed checkpoints (C2SP origin and key name). "
        "Default: `<public host[:port]>/clinphoto-audit` at the first start, then kept in `<data_dir>/audit-origin`: "
        "the server and every `clinphoto audit` command use that name whatever their port setting. "
        "Never change it once officers keep checkpoints."
    )
    audit_checkpoint_seconds: int = _setting(
        300, "Seconds between signed audit checkpoints (one is also signed at every batch commit).", _positive_int
    )
    audit_retention_days: int = _setting(
        365, "Days audit entries are kept; older ones are pruned, leaving a signed summary.", _positive_int
    )
    audit_token: str = _setting(
        "", "Bearer token for machine clients of the audit API (`/api/v1/audit/...`); security officers "
        "sign in with their passkey instead. Unset: no token opens the audit API."
    )
    audit_alert_scan_seconds: int = _setting(
        5, "Seconds between two scans of new audit entries for alerts (reads of the log also trigger a scan).",
        _positive_int,
    )
    audit_alert_failed_signins: int = _setting(
        5, "Failed sign-ins (passkey, registration link, enrolment code, device credential) from one address or "
        "for one person that raise a `failed_signins` alert.", _positive_int,
    )
    audit_alert_failed_signin_seconds: int = _setting(
        300, "Window, in seconds, in which `CLINPHOTO_AUDIT_ALERT_FAILED_SIGNINS` failures raise an alert.",
        _positive_int,
    )
    audit_alert_bulk_photos: int = _setting(
        50, "Distinct photos one person reads or exports within the bulk window that raise a `bulk_access` alert.",
        _positive_int,
    )
    audit_alert_bulk_patients: int = _setting(
        10, "Distinct patients one person reads or exports within the bulk window that raise a `bulk_access` "
        "alert.", _positive_int,
    )
    audit_alert_bulk_seconds: int = _setting(
        600, "Window, in seconds, of the bulk viewing and export alert.", _positive_int,
    )
    audit_working_hours: str = _setting(
        "07:00-20:00", "Working hours, local time (`HH:MM-HH:MM`, may wrap past midnight); a person's access to "
        "patient data outside them raises an `off_hours` alert. `off`: no off-hours alerts.", _working_hours,
    )
    audit_working_days: str = _setting(
        "mon-sun", "Working days (`mon-fri`, `mon,wed,fri`...); any access on another day is off-hours.",
        _working_days,
    )
    audit_timezone: str = _setting(
        "Europe/Paris", "IANA time zone of the working hours and days (e.g. `Europe/Paris`).", _timezone,
    )
    dicomweb_url: str = _setting(
        "", "DICOMweb base URL of the PACS (e.g. `http://pacs:8042/dicom-web`); reconciled photos are sent "
        "there by STOW-RS through the durable outbox. Empty: no PACS delivery."
    )
    dicomweb_token: str = _setting("", "Bearer token sent to the PACS's DICOMweb service, if it needs one.")
    outbox_retry_seconds: int = _setting(
        10, "First retry delay of a failed PACS delivery, in seconds; doubled at each attempt.", _positive_int
    )
    outbox_retry_max_seconds: int = _setting(
        3600, "Longest delay between two PACS delivery attempts, in seconds.", _positive_int
    )
    patient_id_system: str = _setting(
        "urn:clinphoto:patient-id", "Namespace of the hospital patient identifier: FHIR Identifier.system "
        "and DICOM Issuer of Patient ID."
    )
    fhir_token: str = _setting(
        "", "Bearer token the EMR (a machine client) presents to the FHIR read API at `/fhir/r4/` (and `/fhir/r5/`); "
        "signed-in surgeons read it with their session. Empty: no token opens it."
    )
    interop_admin_token: str = _setting(
        "", "Bearer token for machine clients of the interop admin API (outbox status, patient quarantine "
        "decisions) at `/api/v1/interop/`; signed-in administrators and surgeons use their session. Empty: no "
        "token opens it."
    )
    fhir_push_url: str = _setting(
        "", "FHIR R4 base URL of the EMR; each reconciled photo is pushed there as a transaction Bundle "
        "(PUT Media/<photo id>) through the durable outbox. Empty: no push."
    )
    fhir_push_token: str = _setting("", "Bearer token sent with FHIR pushes to the EMR, if it needs one.")
    fhir_r5: bool = _setting(
        False, "Give each photo its FHIR R5 form too, a DocumentReference: served at `/fhir/r5/` beside the R4 "
        "API, and pushed (`PUT DocumentReference/<photo id>`) instead of R4 Media when `CLINPHOTO_FHIR_PUSH_URL` "
        "is set, whose base must then be R5. `1` on, `0` off.", _flag
    )
    orthanc_url: str = _setting(
        "", "REST root of the PACS when it is Orthanc (e.g. `http://pacs:8042`; same token as DICOMweb). Orthanc "
        "files an instance under its Patient ID, so after a merge the photos sent again under the survivor "
        "would stay under the old identity too: ClinPhoto deletes those old copies there. Empty: they are sent "
        "again only, which is enough for a PACS that replaces an instance by its SOP Instance UID."
    )
    hl7_mllp_host: str = _setting("127.0.0.1", "Address the HL7 v2 MLLP listener (ADT feed) binds to.")
    hl7_mllp_port: int = _setting(0, "TCP port of the HL7 v2 MLLP listener for ADT messages. 0: no listener.", int)
    hl7_encoding: str = _setting(
        "utf-8", "Character encoding of HL7 v2 messages without MSH-18, as a Python codec name: `utf-8`, `iso-8859-1`..."
    )
    rp_id: str = _setting(
        "", "WebAuthn relying party id: the host name people reach the server at. Default: the host of "
        "the public URL, or `localhost` when that is a loopback address (browsers refuse IP addresses)."
    )
    session_idle_seconds: int = _setting(
        900, "A person's session ends after this many seconds without a request.", _positive_int
    )
    session_lifetime_seconds: int = _setting(
        43_200, "A person's session ends this many seconds after sign-in, however active.", _positive_int
    )
    invitation_ttl_seconds: int = _setting(
        259_200, "Lifetime of a one-time registration link for a new person's passkey.", _positive_int
    )
    break_glass_seconds: int = _setting(
        1_800, "Length of an emergency (break-glass) access, after which normal rights apply again.", _positive_int
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            name = "CLINPHOTO_" + field.name.upper()
            if name in env and env[name] != "":
                parse = field.metadata["parse"] or str
                try:
                    values[field.name] = parse(env[name])
                except ValueError as exc:
                    raise SettingsError(f"{name}: {exc}") from None
        values.update(overrides)
        return cls(**values)

    @property
    def resolved_keys_dir(self) -> Path:
        return self.keys_dir if self.keys_dir is not None else self.data_dir / "keys"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'clinphoto.db'}"

    @property
    def resolved_public_url(self) -> str:
        return self.public_url or f"http://{self.host or '127.0.0.1'}:{self.port or 8000}"

    @property
    def interop_enabled(self) -> bool:
        """Patient reconciliation and delivery run only once some interop part is configured."""
        return bool(self.dicomweb_url or self.fhir_push_url or self.fhir_token or self.interop_admin_token
                    or self.hl7_mllp_port)

    @property
    def objects_dir(self) -> Path:
        return self.data_dir / "objects"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"


def documented_settings() -> list[tuple[str, str]]:
    """(variable name, help) for every setting, in declaration order."""
    return [
        ("CLINPHOTO_" + f.name.upper(), f.metadata["help"]) for f in dataclasses.fields(Settings)
    ]
