"""Shared by the officer API, alert and route-coverage tests: both backends, officers signed in by session.

Test modules import the fixtures they use from here (and the people fixtures through it):
``from tests.audit.officers import *``.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import pytest

from sync_server.audit.log import AuditEvent, record_many
from sync_server.audit.service import runtime
from tests.conftest import both_backends
from tests.people.conftest import Person, admin, audit, person  # noqa: F401  (fixtures, re-exported)

TOKEN = "audit-service-token-for-tests"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    return both_backends(request)


def for_officers(settings: Any, **changes: Any) -> Any:
    """The audit token set, and the timer scan pushed far away: tests scan when they choose, so what
    they see is deterministic (a read of the log still wakes the scanner, as in production)."""
    return dataclasses.replace(settings, audit_token=TOKEN, audit_alert_scan_seconds=3600, **changes)


@pytest.fixture
def settings(settings: Any) -> Any:
    return for_officers(settings)


@pytest.fixture
def officer(person: Callable[..., Person]) -> Person:
    return person("security_officer", name="Claire Officer")


def put(who: Person, path: str, body: Any) -> Any:
    return who.http.put(path, headers=who.headers(), json=body)


@pytest.fixture
def scan(services: Any, call: Callable[..., Any]) -> Callable[[], int]:
    """Run the alert scanner now, on the app's loop; the number of entries it read."""
    return lambda: call(runtime(services).alerts.scan)


@pytest.fixture
def stored_alerts(services: Any, call: Callable[..., Any]) -> Callable[..., list[dict[str, Any]]]:
    def rows(kind: str | None = None) -> list[dict[str, Any]]:
        found = call(services.store.fetch_all, "SELECT * FROM audit_alert ORDER BY id")
        return [{**r, "patient_id": services.store.fields.open_pid(r["patient_id"])}  # stored sealed
                for r in found if kind is None or r["kind"] == kind]
    return rows


@pytest.fixture
def append(services: Any, call: Callable[..., Any]) -> Callable[..., list[int]]:
    """Append entries (AuditEvent keyword dicts) in one transaction; their seqs."""
    def add(*events: dict[str, Any]) -> list[int]:
        return call(record_many, services.store, [AuditEvent(**e) for e in events])
    return add



__all__ = ["TOKEN", "BEARER", "Person", "admin", "audit", "person", "database_url", "settings", "officer", "put",
           "scan", "stored_alerts", "append", "for_officers"]
