"""The officer's view of the log: filters, pages, single entries, and the rows an export streams.

Filters (all optional, combined with AND) follow the audit API contract: ``person`` (an actor
string, or a person id meaning ``user:<id>``), ``patient`` (exact), ``device`` (device id),
``action`` (exact, or a family ending in ``.`` such as ``photo.``), ``outcome`` (0, 4, 8, 12),
``since`` (inclusive) and ``until`` (exclusive), ISO 8601 date-times in UTC. Every entry comes
with the person's name and roles and the device's label joined in, its detail parsed, and its
chain and leaf hashes. Bad input raises ``ApiError("audit_query_invalid")`` naming the parameter.
"""
from __future__ import annotations

import base64
import dataclasses
import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Iterable, Mapping

from ..db import Db
from ..errors import ApiError
from .log import open_entry

if TYPE_CHECKING:
    from ..storage.fields import PatientFields
from ..clock import iso

MAX_PAGE = 1000
DEFAULT_PAGE = 100
EXPORT_PAGE = 1000  # rows an export holds in memory at once
FILTERS = ("person", "patient", "device", "action", "outcome", "since", "until")
PAGING = ("order", "after", "before", "limit")
OUTCOMES = ("0", "4", "8", "12")
_MAX_TEXT = 200

_SELECT = (
    "SELECT e.seq, e.ts, e.actor, p.name AS actor_name, p.roles AS role, e.device_id, d.label AS device_label, "
    "e.action, e.outcome, e.patient_id, e.object, e.address, e.detail, e.prev_hash, e.entry_hash, "
    "n.hash AS leaf_hash FROM audit_entry e "
    "LEFT JOIN person p ON substr(e.actor, 1, 5) = 'user:' AND p.id = substr(e.actor, 6) "
    "LEFT JOIN device d ON d.id = e.device_id "
    "LEFT JOIN audit_node n ON n.level = 0 AND n.idx = e.seq - 1 WHERE 1 = 1")


def invalid(parameter: str, problem: str) -> ApiError:
    return ApiError("audit_query_invalid", details={"parameter": parameter, "problem": problem})


def check_parameters(items: Iterable[tuple[str, str]], allowed: Iterable[str]) -> dict[str, str]:
    """The query as a dict; an unknown or repeated parameter is refused (a typo must not widen a search)."""
    known, out = set(allowed), {}
    for name, value in items:
        if name not in known:
            raise invalid(name, "unknown parameter")
        if name in out:
            raise invalid(name, "given twice")
        out[name] = value
    return out


def _instant(name: str, text: str) -> str:
    """An ISO 8601 date-time as stored in ``audit_entry.ts`` (UTC, microseconds, ``Z``)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise invalid(name, "not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return iso(moment.astimezone(timezone.utc), "microseconds")


def _text(name: str, value: str) -> str:
    if len(value) > _MAX_TEXT or not value.isprintable():
        raise invalid(name, f"at most {_MAX_TEXT} printable characters")
    return value


def _action_clause(action: str) -> tuple[str, dict[str, Any]]:
    if action.endswith("."):
        # a family of actions ("auth."); substr, not LIKE: action names hold "_", a LIKE wildcard
        return "substr(e.action, 1, :action_len) = :action", {"action": action, "action_len": len(action)}
    return "e.action = :action", {"action": action}


# Each filter: the clause over ``audit_entry e`` it adds, and the values that clause binds.
_CLAUSES: dict[str, Callable[[str], tuple[str, dict[str, Any]]]] = {
    "person": lambda v: ("e.actor IN (:person, :person_user)", {"person": v, "person_user": f"user:{v}"}),
    "patient": lambda v: ("e.patient_id = :patient", {"patient": v}),
    "device": lambda v: ("e.device_id = :device", {"device": v}),
    "action": _action_clause,
    "outcome": lambda v: ("e.outcome = :outcome", {"outcome": v}),
    "since": lambda v: ("e.ts >= :since", {"since": v}),
    "until": lambda v: ("e.ts < :until", {"until": v}),
}


@dataclasses.dataclass(frozen=True)
class Filters:
    person: str | None = None
    patient: str | None = None
    device: str | None = None
    action: str | None = None
    outcome: str | None = None
    since: str | None = None
    until: str | None = None

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> "Filters":
        values: dict[str, str] = {}
        for name in FILTERS:
            value = query.get(name, "").strip()
            if value:
                values[name] = _text(name, value)
        if "outcome" in values and values["outcome"] not in OUTCOMES:
            raise invalid("outcome", "one of 0, 4, 8, 12")
        for name in ("since", "until"):
            if name in values:
                values[name] = _instant(name, values[name])
        return cls(**values)

    def sql(self, fields: "PatientFields | None" = None) -> tuple[str, dict[str, Any]]:
        """``AND ...`` clauses over ``audit_entry e`` and their values, one per filter set (see ``_CLAUSES``);
        the patient is looked up by its stored (sealed) identifier."""
        where, values = "", {}
        for name, value in self.given().items():
            if name == "patient" and fields is not None:
                value = fields.pid(value)
            clause, bound = _CLAUSES[name](value)
            where += f" AND {clause}"
            values.update(bound)
        return where, values

    def given(self) -> dict[str, str]:
        """The filters that are set (for the ``audit.read`` entry that records this search)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


def _seq(name: str, text: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise invalid(name, "a non-negative integer")
    return int(text)


@dataclasses.dataclass(frozen=True)
class Paging:
    order: str = "asc"
    after: int | None = None
    before: int | None = None
    limit: int = DEFAULT_PAGE

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> "Paging":
        order = query.get("order", "asc")
        if order not in ("asc", "desc"):
            raise invalid("order", "asc or desc")
        limit = _seq("limit", query["limit"]) if "limit" in query else DEFAULT_PAGE
        if not 1 <= limit <= MAX_PAGE:
            raise invalid("limit", f"between 1 and {MAX_PAGE}")
        return cls(order=order, limit=limit,
                   after=_seq("after", query["after"]) if "after" in query else None,
                   before=_seq("before", query["before"]) if "before" in query else None)


def _b64(hex_digest: str | None) -> str | None:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode() if hex_digest else None


def to_entry(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row of ``_SELECT`` as the API's Entry: detail parsed, leaf hash in base64."""
    detail = row["detail"]
    try:
        detail = json.loads(detail) if isinstance(detail, str) else dict(detail)
    except ValueError:  # an entry edited into invalid JSON is still shown (verification names it)
        detail = {"unreadable": row["detail"]}
    return {
        "seq": int(row["seq"]), "ts": row["ts"], "actor": row["actor"], "actor_name": row["actor_name"],
        "role": row["role"], "device_id": row["device_id"], "device_label": row["device_label"],
        "action": row["action"], "outcome": str(row["outcome"]), "patient_id": row["patient_id"],
        "object": row["object"], "address": row["address"],
        "detail": detail,
        "entry_hash": row["entry_hash"], "leaf_hash": _b64(row["leaf_hash"]),
    }


async def page(store: Db, filters: Filters, paging: Paging) -> tuple[list[dict[str, Any]], int | None]:
    """One page of entries and the cursor of the next one (``after`` for asc, ``before`` for desc)."""
    where, values = filters.sql(store.field_keys)
    if paging.after is not None:
        where += " AND e.seq > :after"
        values["after"] = paging.after
    if paging.before is not None:
        where += " AND e.seq < :before"
        values["before"] = paging.before
    values["n"] = paging.limit + 1  # one more tells whether a next page exists
    rows = await store.fetch_all(f"{_SELECT}{where} ORDER BY e.seq {paging.order.upper()} LIMIT :n", values)
    more = len(rows) > paging.limit
    rows = rows[:paging.limit]
    return [to_entry(open_entry(r, store.field_keys)) for r in rows], int(rows[-1]["seq"]) if more else None


async def entry_row(store: Db, seq: int) -> Mapping[str, Any] | None:
    row = await store.fetch_one(f"{_SELECT} AND e.seq = :seq", {"seq": seq})
    return None if row is None else open_entry(row, store.field_keys)


async def head_seq(store: Db) -> int:
    return int(await store.fetch_val("SELECT seq FROM audit_head WHERE id = 1"))


async def rows_after(store: Db, after: int, filters: Filters = Filters(), upto: int | None = None,
                     size: int | None = None) -> list[dict[str, Any]]:
    """The next ``size`` matching rows after seq ``after`` (up to seq ``upto``), in seq order."""
    where, values = filters.sql(store.field_keys)
    if upto is not None:
        where += " AND e.seq <= :upto"
        values["upto"] = upto
    return [open_entry(r, store.field_keys) for r in await store.fetch_all(
        f"{_SELECT}{where} AND e.seq > :after ORDER BY e.seq LIMIT :n", {**values, "after": after, "n": size or EXPORT_PAGE})]


async def iter_rows(store: Db, filters: Filters = Filters(), upto: int | None = None,
                    size: int | None = None) -> AsyncIterator[dict[str, Any]]:
    """Every matching row in seq order up to seq ``upto``, ``size`` rows in memory at a time."""
    size = size or EXPORT_PAGE
    after = -1
    while True:
        rows = await rows_after(store, after, filters, upto, size)
        for row in rows:
            yield row
        if len(rows) < size:
            return
        after = int(rows[-1]["seq"])


# -- CSV -------------------------------------------------------------------------------------

CSV_COLUMNS = ("seq", "ts", "actor", "actor_name", "role", "device_id", "device_label", "action", "outcome",
               "patient_id", "object", "address", "detail", "entry_hash", "leaf_hash")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False) \
        if isinstance(value, (dict, list)) else str(value)
    # a spreadsheet would run a cell starting like a formula (names, labels and reasons are typed by
    # people): a leading apostrophe keeps it text (OWASP CSV injection)
    return "'" + text if text.startswith(_FORMULA) else text


def csv_row(entry: Mapping[str, Any]) -> list[str]:
    return [_cell(entry[column]) for column in CSV_COLUMNS]
