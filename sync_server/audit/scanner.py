"""The alert scanner: reads committed audit entries after its cursor, raises and extends alerts.

Alerts never sit in the append path: the scanner reads entries after the cursor in
``audit_alert_cursor`` at start, on a short timer, and whenever an endpoint that reads the log wakes
it, so raising an alert can neither slow nor break an append. The alerts a scan raises and the
cursor's advance commit in one transaction: a crash loses no entry and raises nothing twice; a
second server process finds the cursor moved and rebuilds its windows instead. A failure is logged
(server log, never a patient identifier, and an ``audit.alert.failure`` entry) and the same entries
are read again at the next tick; an entry the detector cannot read is skipped, logged, and stays in
the log.

One alert covers a run of entries of one kind about one subject: a new entry extends the open alert
whose last entry is recent enough (the kind's window, an hour for single events) instead of raising
another; once acknowledged, the next entry raises a new alert.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from ..db import Db, Writer

if TYPE_CHECKING:
    from ..storage.fields import PatientFields
from ..events import wait_event
from .alerts import SEVERITIES, Detector, Hit, Rules, epoch
from .log import SERIOUS_FAILURE, AuditEvent, record
from ..clock import iso, now_iso

log = logging.getLogger("clinphoto.audit.alerts")

SCAN_PAGE = 2000
_COLUMNS = "seq, ts, actor, device_id, action, outcome, patient_id, object, detail, address"


def alert_json(row: Mapping[str, Any], fields: "PatientFields") -> dict[str, Any]:
    """An ``audit_alert`` row as the API's Alert (its patient kept sealed, as the log keeps it)."""
    return {"id": int(row["id"]), "kind": row["kind"], "severity": row["severity"], "raised_at": row["raised_at"],
            "actor": row["actor"], "device_id": row["device_id"], "patient_id": fields.open_pid(row["patient_id"]),
            "count": int(row["entry_count"]), "first_seq": int(row["first_seq"]), "last_seq": int(row["last_seq"]),
            "acknowledged_at": row["acknowledged_at"], "acknowledged_by": row["acknowledged_by"]}



def _max(a: str, b: str) -> str:
    return max(a, b, key=SEVERITIES.index)


@dataclasses.dataclass
class _Run:
    """Hits of one kind and subject, each close enough to the previous one to share an alert."""
    first: Hit
    last_seq: int
    last_ts: str
    severity: str
    more: int = 0  # hits after the first


def _runs(hits: Iterable[Hit], rules: Rules) -> list[_Run]:
    """Fold a scan's hits into runs, so a burst of thousands of entries costs one statement, not thousands."""
    done: list[_Run] = []
    open_runs: dict[tuple[str, str], _Run] = {}
    for hit in hits:
        key = (hit.kind, hit.subject)
        run = open_runs.get(key)
        if run is not None and epoch(hit.ts) - epoch(run.last_ts) <= rules.window(hit.kind):
            run.last_seq, run.last_ts, run.more = hit.seq, hit.ts, run.more + 1
            run.severity = _max(run.severity, hit.severity)
            continue
        if run is not None:
            done.append(run)
        open_runs[key] = _Run(hit, hit.seq, hit.ts, hit.severity)
    return sorted([*done, *open_runs.values()], key=lambda r: r.first.seq)


async def _store(db: Writer, rules: Rules, run: _Run) -> None:
    """Extend the open alert of this kind and subject if its last entry is recent, else raise one."""
    hit = run.first
    row = await db.fetch_one(
        "SELECT id, severity, last_ts FROM audit_alert WHERE kind = :k AND subject = :s "
        "AND acknowledged_at IS NULL ORDER BY id DESC LIMIT 1", {"k": hit.kind, "s": hit.subject})
    if row is not None and epoch(hit.ts) - epoch(row["last_ts"]) <= rules.window(hit.kind):
        await db.execute("UPDATE audit_alert SET entry_count = entry_count + :n, last_seq = :q, last_ts = :t, "
                         "severity = :v WHERE id = :id", {"n": 1 + run.more, "q": run.last_seq, "t": run.last_ts,
                                                          "v": _max(row["severity"], run.severity), "id": row["id"]})
        return
    await db.execute(
        "INSERT INTO audit_alert (kind, severity, subject, raised_at, actor, device_id, patient_id, entry_count, "
        "first_seq, last_seq, last_ts) VALUES (:k, :v, :s, :r, :a, :d, :p, :n, :f, :q, :t)",
        {"k": hit.kind, "v": run.severity, "s": hit.subject, "r": now_iso(), "a": hit.actor, "d": hit.device_id,
         "p": hit.patient_id, "n": hit.count + run.more, "f": hit.first_seq, "q": run.last_seq, "t": run.last_ts})


class _Conflict(Exception):
    """Another scanner (another server process) advanced the cursor first."""


class AlertScanner:
    """Reads new entries after the cursor, raises alerts, advances the cursor; one scan at a time."""

    def __init__(self, store: Db, rules: Rules) -> None:
        self.store = store
        self.rules = rules
        self.detector = Detector(rules)
        self._warm_at: int | None = None  # the cursor the detector's windows are rebuilt up to
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._failing = False

    def wake(self) -> None:
        """Scan now rather than at the next tick (after an entry that surely raises an alert)."""
        self._wake.set()

    async def scan(self) -> int:
        """Scan every entry appended so far; the number of entries read."""
        async with self._lock:
            total = 0
            while True:
                read = await self._scan_page()
                total += read
                if read < SCAN_PAGE:
                    return total

    async def _scan_page(self) -> int:
        cursor = int(await self.store.fetch_val("SELECT seq FROM audit_alert_cursor WHERE id = 1"))
        if self._warm_at != cursor:
            await self._warm(cursor)
        self.detector.restricted = {r["patient_id"]: r["since"] for r in await self.store.fetch_all(
            "SELECT patient_id, since FROM audit_restricted_patient")}
        rows = await self.store.fetch_all(f"SELECT {_COLUMNS} FROM audit_entry WHERE seq > :c ORDER BY seq LIMIT :n",
                                          {"c": cursor, "n": SCAN_PAGE})
        if not rows:
            return 0
        hits: list[Hit] = []
        skipped: list[tuple[int, str]] = []
        for row in rows:
            try:
                hits += self.detector.feed(row)
            except Exception as exc:  # one unreadable entry must not stop the alerts for all the others
                skipped.append((int(row["seq"]), type(exc).__name__))
        last = int(rows[-1]["seq"])
        try:
            async with self.store.write() as db:
                moved = await db.fetch_one(
                    "UPDATE audit_alert_cursor SET seq = :new, updated_at = :t WHERE id = 1 AND seq = :old "
                    "RETURNING seq", {"new": last, "old": cursor, "t": now_iso()})
                if moved is None:
                    raise _Conflict()
                for run in _runs(hits, self.rules):
                    await _store(db, self.rules, run)
        except _Conflict:
            self._warm_at = None  # our windows saw entries that another scanner raised: rebuild them
            return len(rows)
        except BaseException:
            self._warm_at = None  # the same entries are fed again at the next scan
            raise
        self._warm_at = last
        for seq, error in skipped:
            log.error("audit alert detector could not read entry %d (%s); the entry is kept, no alert for it",
                      seq, error)
            await _report(self.store, {"seq": seq, "error": error, "stage": "detect"})
        return len(rows)

    async def _warm(self, cursor: int) -> None:
        """Rebuild the detector's windows from the entries just before ``cursor`` (after a restart)."""
        self.detector = Detector(self.rules)
        longest = max(self.rules.failed_signin_seconds, self.rules.bulk_seconds)
        last_ts = await self.store.fetch_val("SELECT ts FROM audit_entry WHERE seq = :c", {"c": cursor})
        if last_ts is not None:
            since = datetime.fromtimestamp(epoch(last_ts) - longest, timezone.utc)
            start = await self.store.fetch_val(
                "SELECT MIN(seq) FROM audit_entry WHERE ts >= :t",
                {"t": iso(since, "microseconds")})
            after = int(start) - 1 if start is not None else cursor
            while after < cursor:
                rows = await self.store.fetch_all(
                    f"SELECT {_COLUMNS} FROM audit_entry WHERE seq > :a AND seq <= :c ORDER BY seq LIMIT :n",
                    {"a": after, "c": cursor, "n": SCAN_PAGE})
                if not rows:
                    break
                for row in rows:
                    with contextlib.suppress(Exception):
                        self.detector.feed(row, warm=True)
                after = int(rows[-1]["seq"])
        self._warm_at = cursor

    async def scan_or_report(self) -> None:
        """Scan; a failure is logged and reported once per run of failures, never raised."""
        try:
            await self.scan()
            self._failing = False
        except Exception as exc:
            if not self._failing:
                self._failing = True
                log.error("audit alert scan failed (%s); the entries stay in the log and are scanned again",
                          type(exc).__name__)
                await _report(self.store, {"error": type(exc).__name__, "stage": "scan"})

    async def run(self, every_seconds: float, leads: Callable[[], bool] = lambda: True) -> None:
        """Scan on a timer while this process ``leads`` (cluster.py), and whenever woken (an entry that
        surely raises an alert, in any process: the cursor makes each entry scanned once)."""
        while True:
            woken = await wait_event(self._wake, every_seconds)
            self._wake.clear()
            if woken or leads():
                await self.scan_or_report()


async def _report(store: Db, detail: dict[str, Any]) -> None:
    """An alerting failure goes in the audit trail too, when the database takes it."""
    try:
        await record(store, AuditEvent(action="audit.alert.failure", outcome=SERIOUS_FAILURE, actor="system:alerts",
                                       detail=detail))
    except Exception as exc:
        log.error("could not record the alerting failure in the audit trail either (%s)", type(exc).__name__)
