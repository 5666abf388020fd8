"""Alerts on the audit trail, the pure part: a detector fed entries in seq order turns them into hits.

Kinds (thresholds are ``CLINPHOTO_AUDIT_*`` settings):
- ``failed_signins``: N failed sign-ins (passkey, registration link, enrolment code, device
  credential) within a window, from one address or for one person;
- ``bulk_access``: one person reading or exporting many distinct photos or patients within a window;
- ``off_hours``: a person's access to patient data outside working hours and days (local time);
- ``revoked_device``: any contact from a revoked device;
- ``restricted_patient``: any access to a patient an officer flagged as restricted;
- ``log_read``: every read or export of the audit log itself (CNIL).

No I/O and no clock: time is the entries' own ``ts``, so tests drive it with made-up entries and a
scanner rebuilding its windows after a restart gets the same answers. ``scanner.py`` feeds it
committed entries and turns its hits into stored alerts.
"""
from __future__ import annotations

import collections
import dataclasses
import json
from datetime import datetime
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo

from ..settings import Settings, parse_working_days, parse_working_hours
from .fhir import READ, fhir_action
from .log import SUCCESS

SEVERITIES = ("low", "medium", "high")
GROUP_SECONDS = 3600  # single-event kinds: entries this close to the alert's last one extend it
# authentication attempts whose failure counts towards failed_signins
SIGNIN_ACTIONS = frozenset({"person.signin", "passkey.register", "device.enroll", "device.enroll.confirm",
                            "device.authenticate"})


def epoch(ts: str) -> float:
    """An entry's ``ts`` (ISO 8601, ``Z``) as POSIX seconds."""
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


@dataclasses.dataclass(frozen=True)
class Rules:
    failed_signins: int = 5
    failed_signin_seconds: int = 300
    bulk_photos: int = 50
    bulk_patients: int = 10
    bulk_seconds: int = 600
    working_hours: tuple[int, int] | None = (7 * 60, 20 * 60)
    working_days: frozenset[int] = frozenset(range(7))
    tz: ZoneInfo = ZoneInfo("UTC")

    @classmethod
    def from_settings(cls, settings: Settings) -> "Rules":
        return cls(failed_signins=settings.audit_alert_failed_signins,
                   failed_signin_seconds=settings.audit_alert_failed_signin_seconds,
                   bulk_photos=settings.audit_alert_bulk_photos, bulk_patients=settings.audit_alert_bulk_patients,
                   bulk_seconds=settings.audit_alert_bulk_seconds,
                   working_hours=parse_working_hours(settings.audit_working_hours),
                   working_days=parse_working_days(settings.audit_working_days), tz=ZoneInfo(settings.audit_timezone))

    def window(self, kind: str) -> int:
        """Seconds after an alert's last entry during which a new entry extends it."""
        return {"failed_signins": self.failed_signin_seconds, "bulk_access": self.bulk_seconds}.get(kind, GROUP_SECONDS)

    def off_hours(self, at: float) -> bool:
        if self.working_hours is None:
            return False
        local = datetime.fromtimestamp(at, self.tz)
        if local.weekday() not in self.working_days:
            return True
        minute = local.hour * 60 + local.minute
        start, end = self.working_hours
        inside = start <= minute < end if start < end else (minute >= start or minute < end)
        return not inside


@dataclasses.dataclass(frozen=True)
class Hit:
    """One entry that raises an alert, or extends the open one of the same kind and subject."""
    kind: str
    severity: str
    subject: str
    seq: int
    ts: str
    first_seq: int
    count: int  # entries the alert covers when this hit raises it
    actor: str | None = None
    device_id: str | None = None
    patient_id: str | None = None


class _Window:
    """Entries of one subject within the last ``seconds``: (epoch, seq, object, patient)."""

    __slots__ = ("items", "objects", "patients")

    def __init__(self) -> None:
        self.items: collections.deque[tuple[float, int, str | None, str | None]] = collections.deque()
        self.objects: collections.Counter[str] = collections.Counter()
        self.patients: collections.Counter[str] = collections.Counter()

    def add(self, at: float, seq: int, obj: str | None = None, patient: str | None = None) -> None:
        self.items.append((at, seq, obj, patient))
        if obj:
            self.objects[obj] += 1
        if patient:
            self.patients[patient] += 1

    def expire(self, before: float) -> None:
        while self.items and self.items[0][0] < before:
            _, _, obj, patient = self.items.popleft()
            for counter, key in ((self.objects, obj), (self.patients, patient)):
                if key:
                    counter[key] -= 1
                    if counter[key] <= 0:
                        del counter[key]


class Detector:
    """Turns entries (dict rows, seq order) into hits. Pure: no I/O, no clock; time is the entries' ts."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.restricted: dict[str, str] = {}  # patient id -> since (ts)
        self._signins: dict[str, _Window] = {}
        self._reads: dict[str, _Window] = {}
        self._fed = 0

    def feed(self, entry: Mapping[str, Any], warm: bool = False) -> list[Hit]:
        """The hits of one entry; ``warm`` only rebuilds the windows (entries read before a restart)."""
        seq, ts, actor, action = int(entry["seq"]), entry["ts"], entry["actor"], entry["action"]
        outcome, patient, device = str(entry["outcome"]), entry.get("patient_id"), entry.get("device_id")
        detail = entry.get("detail") or {}
        if isinstance(detail, str):
            detail = json.loads(detail)
        at = epoch(ts)
        self._fed += 1
        if self._fed % 1000 == 0:
            self._forget(at)
        person = actor if actor.startswith("user:") else None
        hits: list[Hit] = []
        one = dict(seq=seq, ts=ts, first_seq=seq, count=1)

        if action in SIGNIN_ACTIONS and outcome != SUCCESS and detail.get("code") != "device_revoked":
            keys = [f"address:{entry.get('address') or '?'}"]
            if isinstance(detail.get("person"), str):
                keys.append(f"person:{detail['person']}")
            for key in keys:
                window = self._signins.setdefault(key, _Window())
                window.expire(at - self.rules.failed_signin_seconds)
                window.add(at, seq)
                n = len(window.items)
                if n >= self.rules.failed_signins:
                    who = f"user:{key[7:]}" if key.startswith("person:") else actor
                    hits.append(Hit("failed_signins", "high" if n >= 3 * self.rules.failed_signins else "medium",
                                    key, seq, ts, first_seq=window.items[0][1], count=n, actor=who,
                                    device_id=device))

        if detail.get("code") == "device_revoked" and device:
            hits.append(Hit("revoked_device", "high", f"device:{device}", actor=actor, device_id=device, **one))

        if action.startswith("audit."):
            if action in ("audit.read", "audit.export") and outcome == SUCCESS:
                hits.append(Hit("log_read", "medium" if action == "audit.export" else "low", f"actor:{actor}",
                                actor=actor, patient_id=patient, **one))
            return [] if warm else hits  # the officer's own work on the log is not patient access

        if patient and patient in self.restricted and ts >= self.restricted[patient] \
                and not actor.startswith("system"):
            hits.append(Hit("restricted_patient", "high", f"{patient}|{actor}", actor=actor, device_id=device,
                            patient_id=patient, **one))

        touches_patient = bool(patient) or (entry.get("object") or "").startswith("photo")
        if person and outcome == SUCCESS and touches_patient:
            if self.rules.off_hours(at):
                hits.append(Hit("off_hours", "low", f"actor:{actor}", actor=actor, device_id=device,
                                patient_id=patient, **one))
            if fhir_action(action) == READ or action.endswith(".export"):
                window = self._reads.setdefault(person, _Window())
                window.expire(at - self.rules.bulk_seconds)
                window.add(at, seq, entry.get("object"), patient)
                if len(window.objects) >= self.rules.bulk_photos or len(window.patients) >= self.rules.bulk_patients:
                    hits.append(Hit("bulk_access", "high", f"actor:{actor}", seq, ts, first_seq=window.items[0][1],
                                    count=len(window.items), actor=actor, device_id=device))
        return [] if warm else hits

    def _forget(self, now: float) -> None:
        """Drop subjects with nothing left in their window (memory stays bounded by the windows)."""
        for windows, seconds in ((self._signins, self.rules.failed_signin_seconds),
                                 (self._reads, self.rules.bulk_seconds)):
            for key in list(windows):
                windows[key].expire(now - seconds)
                if not windows[key].items:
                    del windows[key]


def hits_of(entries: Iterable[Mapping[str, Any]], rules: Rules,
            restricted: Mapping[str, str] | None = None) -> list[Hit]:
    """Every hit of a run of entries (tests, tools): the detector without a database."""
    detector = Detector(rules)
    detector.restricted = dict(restricted or {})
    return [hit for entry in entries for hit in detector.feed(entry)]
