"""The audit API: token-gated, every read logged, proofs that verify against signed checkpoints."""
from __future__ import annotations

import base64
import dataclasses

import pytest
from starlette.testclient import TestClient

from sync_server.app import create_app
from sync_server.audit import merkle
from sync_server.audit.checkpoint import check_not_older, open_checkpoint, parse_vkey
from sync_server.audit.log import AuditEvent, record
from tests.support.waiting import wait_for

TOKEN = "officer-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def audit_http(settings):
    with TestClient(create_app(dataclasses.replace(settings, audit_token=TOKEN)),
                    base_url="http://127.0.0.1:8000") as client:
        yield client


def _call(client, fn, *args):
    return client.portal.call(lambda: fn(*args))


def _fill(client, n):
    store = client.app.state.services.store
    for i in range(n):
        _call(client, record, store, AuditEvent(action="photo.view", actor="user:a", object=f"photo/{i}"))


def _b(values):
    return [base64.b64decode(v) for v in values]


def test_without_a_token_setting_no_bearer_token_opens_the_audit_api(http):
    response = http.get("/api/v1/audit/checkpoint", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 404 and response.json()["error"]["code"] == "audit_api_disabled"


def test_a_caller_with_neither_session_nor_token_is_told_to_sign_in(audit_http):
    response = audit_http.get("/api/v1/audit/checkpoint")
    assert response.status_code == 401 and response.json()["error"]["code"] == "session_required"


def test_a_wrong_token_is_refused_and_the_refusal_audited(audit_http):
    response = audit_http.get("/api/v1/audit/checkpoint", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401 and response.json()["error"]["code"] == "audit_unauthenticated"
    rows = _call(audit_http, audit_http.app.state.services.store.fetch_all,
                 "SELECT * FROM audit_entry WHERE object = '/api/v1/audit/checkpoint'")
    assert rows and rows[-1]["outcome"] == "4"


def test_every_read_of_the_log_is_itself_logged(audit_http):
    _fill(audit_http, 3)
    for url in ("/api/v1/audit/checkpoint", "/api/v1/audit/entries?limit=2",
                "/api/v1/audit/proof/inclusion?index=0&size=3", "/api/v1/audit/proof/consistency?from=1&to=3"):
        assert audit_http.get(url, headers=AUTH).status_code == 200, url
    rows = _call(audit_http, audit_http.app.state.services.store.fetch_all,
                 "SELECT * FROM audit_entry WHERE action = 'audit.read' ORDER BY seq")
    assert [r["object"] for r in rows] == ["/api/v1/audit/checkpoint", "/api/v1/audit/entries",
                                           "/api/v1/audit/proof/inclusion", "/api/v1/audit/proof/consistency"]
    assert all(r["actor"] == "token:audit" for r in rows)


def test_served_proofs_verify_against_the_signed_checkpoints(audit_http):
    _fill(audit_http, 9)
    services = audit_http.app.state.services
    from sync_server.audit.service import log_origin
    from sync_server.audit.tree import issue_checkpoint
    _call(audit_http, issue_checkpoint, services.store, services.keys, log_origin(services.settings), "test")
    first = audit_http.get("/api/v1/audit/checkpoint", headers=AUTH).json()
    key = parse_vkey(first["verifier_key"])
    old = open_checkpoint(first["checkpoint"], [key])
    _fill(audit_http, 7)
    _call(audit_http, issue_checkpoint, services.store, services.keys, old.origin, "test")
    latest = open_checkpoint(audit_http.get("/api/v1/audit/checkpoint", headers=AUTH).json()["checkpoint"], [key])
    assert old.size >= 9 and latest.size >= old.size + 7
    check_not_older(old, latest)
    proof = audit_http.get(f"/api/v1/audit/proof/consistency?from={old.size}&to={latest.size}", headers=AUTH).json()
    merkle.verify_consistency(old.size, latest.size, old.root, latest.root, _b(proof["proof"]))
    page = audit_http.get(f"/api/v1/audit/entries?after=0&limit={latest.size}", headers=AUTH).json()["entries"]
    from sync_server.audit.log import leaf_bytes
    for index in (0, 4, old.size - 1, latest.size - 1):
        body = audit_http.get(f"/api/v1/audit/proof/inclusion?index={index}&size={latest.size}", headers=AUTH).json()
        assert "leaf_hash" in body, body
        leaf = merkle.leaf_hash(leaf_bytes(page[index]))
        assert base64.b64decode(body["leaf_hash"]) == leaf
        merkle.verify_inclusion(index, latest.size, leaf, _b(body["proof"]), latest.root)


def test_a_proof_out_of_range_is_a_clear_error(audit_http):
    _fill(audit_http, 2)
    response = audit_http.get("/api/v1/audit/proof/inclusion?index=5&size=99", headers=AUTH)
    assert response.status_code == 422 and response.json()["error"]["code"] == "audit_proof_unavailable"
    response = audit_http.get("/api/v1/audit/proof/inclusion?index=-1&size=2", headers=AUTH)
    assert response.status_code == 400 and response.json()["error"]["code"] == "audit_query_invalid"


def test_a_checkpoint_is_signed_at_every_batch_commit(device, batch_of, call, services):
    batch = batch_of(1)
    device.propose(batch.manifest)
    for p in batch.photos:
        device.upload(batch.batch_id, p.photo_id, p.sealed)
    device.commit(batch.batch_id)
    rows = call(services.store.fetch_all, "SELECT * FROM audit_checkpoint ORDER BY id")
    assert rows[-1]["reason"] == f"batch {batch.batch_id}"
    commit_seq = call(services.store.fetch_val, "SELECT seq FROM audit_entry WHERE action = 'batch.commit'")
    assert rows[-1]["size"] >= commit_seq


def test_a_checkpoint_is_signed_on_the_interval_when_the_log_grew(settings):
    with TestClient(create_app(dataclasses.replace(settings, audit_checkpoint_seconds=1)),
                    base_url="http://127.0.0.1:8000") as client:
        _fill(client, 2)
        store = client.app.state.services.store
        rows = wait_for(lambda: _call(client, store.fetch_all,
                                      "SELECT * FROM audit_checkpoint WHERE reason = 'interval' AND size >= 2"),
                        10, "an interval checkpoint", every=0.1)
        assert rows
