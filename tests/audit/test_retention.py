"""Retention: old entries go, a signed summary stays, the rest still verifies across the cut."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sync_server.audit.log import verify_chain
from sync_server.audit.retention import prune


def _age(officer, upto: int, days: int) -> None:
    old = (datetime.now(timezone.utc) - timedelta(days=days)).isoformat().replace("+00:00", "Z")
    officer.sql("UPDATE audit_entry SET ts = :t WHERE seq <= :s", {"t": old, "s": upto})


def _rechain(officer) -> None:
    from tests.audit.conftest import rewrite_chain_from
    rewrite_chain_from(officer, 1)
    officer.sql("DELETE FROM audit_node")
    officer.sql("UPDATE audit_head SET tree_size = 0, frontier = ''")
    from sync_server.audit.log import ensure_tree
    officer.call(ensure_tree, officer.services.store)


def test_pruning_leaves_a_signed_summary_and_the_log_verifies_across_the_cut(officer):
    officer.append(7)
    _age(officer, 7, 400)  # these entries were written a long time ago (their hashes recomputed as then)
    _rechain(officer)
    before = officer.checkpoint()  # an officer saved this checkpoint before the cut
    officer.append(6)
    summary = officer.call(prune, officer.services.store, officer.services.keys, officer.origin, 365)
    assert summary["summary"]["cut"] == 7
    assert officer.call(officer.services.store.fetch_val, "SELECT MIN(seq) FROM audit_entry") == 8
    after = officer.checkpoint()
    assert officer.call(verify_chain, officer.services.store).ok
    report = officer.verify(after)
    assert report.ok, report.problem
    report = officer.verify(before)  # crosses the cut with the summary's consistency proof
    assert report.ok, report.problem


def test_a_forged_retention_summary_is_refused(officer):
    officer.append(5)
    _age(officer, 3, 400)
    _rechain(officer)
    officer.checkpoint()
    officer.call(prune, officer.services.store, officer.services.keys, officer.origin, 365)
    trusted = officer.checkpoint()
    directory = officer.export()
    text = (directory / "prune.json").read_text()
    (directory / "prune.json").write_text(text.replace('"cut": 3', '"cut": 2'))
    report = officer.verify(trusted, directory)
    assert not report.ok and "summary" in report.problem


def test_nothing_is_pruned_inside_the_retention_period(officer):
    officer.append(3)
    assert officer.call(prune, officer.services.store, officer.services.keys, officer.origin, 365) is None
