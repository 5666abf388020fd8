"""Reading the database the way the server does: patient identifiers are stored sealed and the index's fields
encrypted (``sync_server/storage/fields.py``), so a test that looks at rows opens them with the install's keys,
and looks a patient up by its sealed identifier (``seal``)."""
from __future__ import annotations

from typing import Any, Mapping

from sync_server.audit.log import open_entry
from sync_server.storage.fields import PatientFields, open_patient

# columns holding a patient identifier, whatever the table (or the alias a query gives them)
ID_COLUMNS = frozenset({"patient_id", "claimed_id", "merged_into", "sent_patient_id", "index_patient_id"})


def opened(fields: PatientFields, row: Mapping[str, Any], table: str = "") -> dict[str, Any]:
    """A row with its identifiers (and, for ``patient_index`` and ``patient_identifier``, its fields) opened;
    an audit entry as its leaf holds it, ``detail`` parsed."""
    if table == "audit_entry" or ("action" in row and "outcome" in row):
        return open_entry(row, fields)
    if table == "patient_index":
        return open_patient(fields, row)
    out = dict(row)
    for column in ID_COLUMNS & set(out):
        out[column] = fields.open_pid(out[column])
    if table == "patient_identifier" and "value" in out:
        out["value"] = fields.open_pid(out["value"])
    return out


def rows(call: Any, store: Any, sql: str, values: Mapping[str, Any] | None = None, table: str = "") -> list[dict[str, Any]]:
    """``fetch_all`` with every row opened (``table`` says which fields the rows hold, when not obvious)."""
    table = table or _table(sql)
    return [opened(store.fields, r, table) for r in call(store.fetch_all, sql, dict(values or {}))]


def row(call: Any, store: Any, sql: str, values: Mapping[str, Any] | None = None, table: str = "") -> dict[str, Any] | None:
    found = rows(call, store, sql, values, table)
    return found[0] if found else None


def _table(sql: str) -> str:
    words = sql.replace("\n", " ").split()
    lowered = [w.lower() for w in words]
    return words[lowered.index("from") + 1] if "from" in lowered else ""


def patient_row(call: Any, services: Any, patient_id: str) -> dict[str, Any] | None:
    """The index row of ``patient_id``, opened; None when the index does not hold it."""
    return row(call, services.store, "SELECT * FROM patient_index WHERE id = :p",
               {"p": services.store.fields.pid(patient_id)}, "patient_index")
