"""A device may ask a tus upload's offset hundreds of times a second: one audit entry with a count, not hundreds.

The first HEAD of an upload is recorded at once (who asked about what, from where); the repeats that
follow within a minute are recorded as one entry carrying their count, when the minute ends or the
server stops, so that a device hammering the server still shows in the log with the figure.
"""
from __future__ import annotations

import json
import sqlite3

import pytest
from starlette.testclient import TestClient

from sync_server.app import create_app
from sync_server.audit.service import runtime
from tests.conftest import Batch
from tests.support.client import SyncClient


@pytest.fixture
def database_url() -> None:
    return None  # the tally lives in the server, not the database: SQLite, whose file the test reads after a stop


def _heads(rows) -> list[dict]:
    return [{**r, "detail": json.loads(r["detail"])} for r in rows if r["action"] == "upload.head"]


def _open_upload(device: SyncClient) -> str:
    batch = Batch(device, 1)
    assert device.propose(batch.manifest).status_code == 201
    created = device.create_upload(batch.batch_id, batch.photos[0].photo_id, len(batch.photos[0].sealed))
    assert created.status_code == 201
    return created.headers["location"]


def test_repeated_heads_of_one_upload_are_one_entry_with_their_count(device, services, call):
    location, other = _open_upload(device), _open_upload(device)
    for _ in range(200):
        assert device.head(location).status_code == 200
    assert device.head(other).status_code == 200
    rows = lambda: _heads(call(services.store.fetch_all, "SELECT * FROM audit_entry ORDER BY seq"))  # noqa: E731
    first = rows()
    assert [e["detail"]["count"] for e in first] == [1, 1]  # each upload's first HEAD, at once
    assert first[0]["actor"] == f"device:{device.device_id}" and first[0]["address"] == "testclient"
    call(runtime(services).repeats.flush, True)  # what the minute's end (or a stop) does
    after = rows()
    assert len(after) == 3
    repeat = after[2]
    assert repeat["detail"]["count"] == 199 and repeat["detail"]["upload_id"] == location.rsplit("/", 1)[-1]
    assert repeat["detail"]["first_at"] <= repeat["detail"]["last_at"]
    assert sum(e["detail"]["count"] for e in after) == 201


def test_repeats_still_counted_when_the_server_stops(settings):
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000") as http:
        from sync_server.auth.devices import create_enrollment_code
        code, _ = http.portal.call(create_enrollment_code, http.app.state.services.store, "phone", 900)
        device = SyncClient(http)
        assert device.enroll(code).status_code == 201
        location = _open_upload(device)
        for _ in range(50):
            device.head(location)
    with sqlite3.connect(settings.data_dir / "clinphoto.db") as db:
        db.row_factory = sqlite3.Row
        heads = _heads(db.execute("SELECT * FROM audit_entry ORDER BY seq").fetchall())
    assert [e["detail"]["count"] for e in heads] == [1, 49]
