"""Each kind of tampering is caught by ``audit verify --trusted`` and the first bad entry named."""
from __future__ import annotations

import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync_server.audit.checkpoint import Checkpoint, sign_note
from tests.audit.conftest import chained, rewrite_chain_from


def _saved_log(officer, n=12):
    officer.append(n)
    return officer.checkpoint()


def test_an_untouched_log_verifies_against_a_saved_checkpoint_and_later_growth(officer):
    trusted = _saved_log(officer)
    officer.append(5)
    officer.checkpoint()
    report = officer.verify(trusted)
    assert report.ok, report.problem
    assert report.trusted_size == 12 and report.size == report.latest_size == 17


def test_a_changed_field_is_caught_and_named(officer):
    trusted = _saved_log(officer)
    officer.sql("UPDATE audit_entry SET patient_id = 'IPP-9999' WHERE seq = 5")
    report = officer.verify(trusted)
    assert not report.ok and report.first_bad_seq == 5 and "edited" in report.problem


def test_a_changed_field_with_the_whole_chain_rewritten_is_caught_by_the_tree_and_named(officer):
    trusted = _saved_log(officer)
    officer.sql("UPDATE audit_entry SET actor = 'user:nobody' WHERE seq = 6")
    rewrite_chain_from(officer, 6)
    report = officer.verify(trusted)
    assert not report.ok and report.first_bad_seq == 6, report


def test_a_deleted_entry_is_caught_and_named(officer):
    trusted = _saved_log(officer)
    officer.sql("DELETE FROM audit_entry WHERE seq = 4")
    report = officer.verify(trusted)
    assert not report.ok and report.first_bad_seq == 4 and "deleted" in report.problem


def test_an_inserted_entry_is_caught_and_named(officer):
    trusted = _saved_log(officer)
    officer.sql("UPDATE audit_entry SET seq = seq + 1000 WHERE seq >= 6")
    officer.sql("UPDATE audit_entry SET seq = seq - 999 WHERE seq >= 1006")
    forged = dict(officer.row(5), seq=6, actor="user:alibi", detail=json.dumps({"forged": True}))
    forged["prev_hash"] = officer.row(5)["entry_hash"]
    forged["entry_hash"] = chained(forged["prev_hash"], forged)
    officer.sql("INSERT INTO audit_entry (seq, ts, actor, device_id, action, outcome, patient_id, object, detail, "
                "address, prev_hash, entry_hash) VALUES (:seq, :ts, :actor, :device_id, :action, :outcome, "
                ":patient_id, :object, :detail, :address, :prev_hash, :entry_hash)", forged)
    report = officer.verify(trusted)
    assert not report.ok and report.first_bad_seq == 6, report


def test_reordered_entries_are_caught_and_named(officer):
    trusted = _saved_log(officer)
    officer.sql("UPDATE audit_entry SET seq = -1 WHERE seq = 3")
    officer.sql("UPDATE audit_entry SET seq = 3 WHERE seq = 4")
    officer.sql("UPDATE audit_entry SET seq = 4 WHERE seq = -1")
    report = officer.verify(trusted)
    assert not report.ok and report.first_bad_seq == 3, report


def test_a_truncated_log_is_caught_even_with_its_head_and_checkpoints_fixed(officer):
    trusted = _saved_log(officer)
    officer.sql("DELETE FROM audit_entry WHERE seq > 9")
    officer.sql("DELETE FROM audit_checkpoint WHERE size > 9")
    officer.sql("UPDATE audit_head SET seq = 9, entry_hash = (SELECT entry_hash FROM audit_entry WHERE seq = 9)")
    report = officer.verify(trusted)
    assert not report.ok and report.first_bad_seq == 10 and "truncated" in report.problem


def test_a_forged_trusted_checkpoint_is_refused(officer):
    trusted = _saved_log(officer)
    text = trusted.read_text()
    trusted.write_text(text.replace("\n12\n", "\n11\n", 1))
    report = officer.verify(trusted)
    assert not report.ok and "forged" in report.problem


def test_a_checkpoint_signed_by_someone_else_is_refused(officer):
    trusted = _saved_log(officer)
    size, root = 12, bytes(32)
    trusted.write_text(sign_note(Checkpoint(officer.origin, size, root).text(), officer.origin,
                                 Ed25519PrivateKey.generate()))
    report = officer.verify(trusted)
    assert not report.ok and "trusted key" in report.problem


def test_a_forged_checkpoint_inside_the_export_is_refused(officer):
    trusted = _saved_log(officer)
    officer.append(3)
    officer.checkpoint()
    directory = officer.export()
    rows = [json.loads(line) for line in (directory / "checkpoints.jsonl").read_text().splitlines()]
    rows[-1]["note"] = rows[-1]["note"].replace("\n15\n", "\n14\n", 1)
    (directory / "checkpoints.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = officer.verify(trusted, directory)
    assert not report.ok and "forged" in report.problem


def test_an_old_checkpoint_replayed_as_the_latest_is_caught(officer):
    officer.append(6)
    old = officer.checkpoint()
    officer.append(6)
    trusted = officer.checkpoint()
    directory = officer.export()
    # the server keeps its entries but presents the old checkpoint as its latest
    (directory / "checkpoints.jsonl").write_text(json.dumps({"note": old.read_text()}) + "\n")
    report = officer.verify(trusted, directory)
    assert not report.ok and "replayed" in report.problem


def test_a_log_rolled_back_to_an_old_checkpoint_is_caught(officer):
    officer.append(6)
    officer.checkpoint()
    officer.append(6)
    trusted = officer.checkpoint()
    officer.sql("DELETE FROM audit_entry WHERE seq > 6")
    officer.sql("DELETE FROM audit_checkpoint WHERE size > 6")
    report = officer.verify(trusted)
    assert not report.ok and report.first_bad_seq == 7
